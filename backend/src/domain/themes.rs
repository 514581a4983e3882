//! Themes among dissent: groups the free-text reasons of opinions against
//! a proposal into keywords. A tally of votes shows how many residents object.
//! The themes show organisers what they object to, so the organisers can
//! answer the real concerns of dissenters instead of guessing at them.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jieba_rs::Jieba;
use lru::LruCache;

/// One keyword theme among dissenting reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub keyword: String,
    /// Number of distinct opinions whose reason contains the keyword.
    pub count: u32,
    /// Up to `MAX_SAMPLES` opinion ids (smallest ids first) containing it.
    pub sample_opinion_ids: Vec<i64>,
}

/// Enough opinions for an organiser to read a theme in context without the
/// result growing with the size of the consultation.
pub const MAX_SAMPLES: usize = 5;

/// Words that carry no concern of their own, in groups. Single characters
/// (的, 了, 是, 我, 不, 太 …) are not listed: the length rule drops every one
/// of them before these lists are consulted. Each entry must be one token of
/// the default dictionary, or it could never match; a test checks that.
const CHINESE_STOPWORDS: &[&[&str]] = &[
    PRONOUNS,
    INTERROGATIVES,
    FUNCTION_WORDS,
    FRAMING_WORDS,
    VERDICT_WORDS,
];

const PRONOUNS: &[&str] = &[
    "我们", "你们", "他们", "她们", "它们", "咱们", "自己", "大家", "个人", "本人", "这个", "那个",
    "这些", "那些", "这里", "那里", "这样", "那样", "这么", "那么", "这种", "那种", "这次", "此次",
    "所有", "其他", "其它",
];

const INTERROGATIVES: &[&str] = &["什么", "怎么", "怎么样", "为什么"];

/// Conjunctions, adverbs and auxiliaries.
const FUNCTION_WORDS: &[&str] = &[
    "因为", "所以", "但是", "可是", "不过", "而且", "并且", "而是", "或者", "以及", "如果", "只要",
    "即使", "虽然", "然而", "然后", "因此", "由于", "对于", "关于", "通过", "的话", "已经", "还是",
    "就是", "不是", "还有", "还要", "只是", "只有", "没有", "不要", "不会", "不能", "可以", "可能",
    "应该", "需要", "必须", "一定", "肯定", "其实", "确实", "根本", "完全", "非常", "比较", "特别",
    "尤其", "甚至", "真的", "有点", "有些", "一些", "一点", "一下", "一个", "一样", "等等", "而已",
    "另外", "同时", "本来", "现在", "目前", "之前", "之后", "以前", "以后", "以上", "起来", "出来",
];

/// How a resident frames an opinion rather than what it is about.
const FRAMING_WORDS: &[&str] = &[
    "觉得", "认为", "希望", "感觉", "问题", "情况", "方面", "进行", "导致",
];

/// Every dissenting reason disagrees, so saying so tells organisers nothing
/// about why. (不同意 segments as 不 + 同意.)
const VERDICT_WORDS: &[&str] = &["反对", "同意", "支持", "不好", "不行", "不合理", "建议"];

/// Short on purpose: reasons are mostly Chinese, and Latin words in them are
/// usually names (WiFi, App) rather than English prose. Single letters are
/// dropped by the length rule, so none are listed.
const ENGLISH_STOPWORDS: &[&str] = &[
    "an", "and", "are", "as", "at", "be", "but", "by", "do", "for", "from", "has", "have", "he",
    "in", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "that",
    "the", "their", "them", "there", "they", "this", "to", "too", "us", "very", "was", "we",
    "were", "what", "when", "which", "who", "will", "with", "you", "your",
];

/// Top `top` keywords by count (ties broken by keyword, ascending) over
/// (opinion_id, reason) pairs.
///
/// A keyword counts once per opinion however often its reason repeats it,
/// so one insistent resident cannot outweigh several who mention it once.
/// "Ascending" is Unicode code-point order: stable across runs and
/// platforms, though not pinyin order.
pub fn dissent_themes<'a>(
    reasons: impl IntoIterator<Item = (i64, &'a str)>,
    top: usize,
) -> Vec<Theme> {
    // Sets rather than counters: they make "once per opinion" hold even when
    // the caller passes the same opinion twice, and keep ids sorted for the
    // samples.
    let mut opinions_by_keyword: HashMap<String, BTreeSet<i64>> = HashMap::new();
    for (opinion_id, reason) in reasons {
        for keyword in keywords(&fold_full_width(reason)) {
            opinions_by_keyword
                .entry(keyword)
                .or_default()
                .insert(opinion_id);
        }
    }

    let mut themes: Vec<Theme> = opinions_by_keyword
        .into_iter()
        .map(|(keyword, opinions)| Theme {
            keyword,
            count: u32::try_from(opinions.len()).unwrap_or(u32::MAX),
            sample_opinion_ids: opinions.into_iter().take(MAX_SAMPLES).collect(),
        })
        .collect();
    // Keywords are unique, so this order is total and the HashMap's
    // iteration order cannot leak into the result.
    themes.sort_unstable_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.keyword.cmp(&b.keyword))
    });
    themes.truncate(top);
    themes
}

/// The segmenter, loaded once: building it decompresses and indexes the
/// whole default dictionary, which takes far longer than segmenting.
fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

fn stopwords() -> &'static HashSet<&'static str> {
    static STOPWORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    STOPWORDS.get_or_init(|| {
        CHINESE_STOPWORDS
            .iter()
            .copied()
            .flatten()
            .chain(ENGLISH_STOPWORDS)
            .copied()
            .collect()
    })
}

/// Candidate theme words of one reason, possibly repeated.
///
/// `cut` with HMM off rather than `cut_for_search` or HMM on:
/// - `cut_for_search` also emits the parts of long words (停车位 gives 停车,
///   车位 and 停车位), so one concern would surface as several themes;
/// - the HMM guesses words missing from the dictionary by gluing single
///   characters together (太低, 太大, 年建), which splits one concern over
///   many pseudo-words. With it off those fall apart into single
///   characters, which the filter drops, and only dictionary words remain.
fn keywords(reason: &str) -> impl Iterator<Item = String> + '_ {
    jieba()
        .cut(reason, false)
        .into_iter()
        .filter_map(|token| keyword(token.word))
}

/// The token as a theme keyword, or `None` if it says nothing on its own.
fn keyword(token: &str) -> Option<String> {
    let word = token.trim();
    // One character is too ambiguous to be a theme: a single hanzi here is
    // almost always a particle or a fragment the segmenter could not place,
    // and a single letter or digit means nothing alone.
    if word.chars().count() < 2 {
        return None;
    }
    // Punctuation (ASCII and full-width), whitespace and numbers such as
    // 2024, 3.5 or 50% have no letter; hanzi count as letters here.
    if !word.chars().any(char::is_alphabetic) {
        return None;
    }
    let word = word.to_lowercase();
    if stopwords().contains(word.as_str()) {
        return None;
    }
    Some(word)
}

/// Chinese input methods often type Latin letters and digits full-width
/// (ＷｉＦｉ); jieba splits those into single characters, which would lose
/// the word, so they are read as their ASCII forms.
fn fold_full_width(text: &str) -> Cow<'_, str> {
    const FULL_WIDTH_ASCII: std::ops::RangeInclusive<char> = '\u{FF01}'..='\u{FF5E}';
    const OFFSET: u32 = 0xFF01 - 0x21;
    if !text.chars().any(|c| FULL_WIDTH_ASCII.contains(&c)) {
        return Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| {
            if FULL_WIDTH_ASCII.contains(&c) {
                char::from_u32(u32::from(c) - OFFSET).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Themes kept per (topic, division) with the counter version they were
/// computed from, so organisers polling a topic's themes segment its
/// reasons once per change, not once per request.
///
/// A resident who edits only the reason of an opinion moves no counter, so
/// an entry also expires after [`MEMO_MAX_AGE`]: such an edit shows within
/// that time.
#[derive(Clone, Debug)]
pub struct ThemesMemo {
    entries: Arc<Mutex<LruCache<MemoKey, Memoised>>>,
}

/// A topic and the division (normalised code) the reasons were taken from.
type MemoKey = (i64, Option<String>);

#[derive(Debug)]
struct Memoised {
    version: u64,
    at: Instant,
    themes: Arc<Vec<Theme>>,
}

/// Topics and divisions whose themes are kept at most; the least recently
/// asked goes first.
const MEMO_CAPACITY: usize = 256;

/// How long kept themes serve at most, for edits of reasons alone.
pub const MEMO_MAX_AGE: Duration = Duration::from_secs(60);

/// Themes are kept at the largest `top` asked for, and cut to each request's.
pub const MEMO_TOP: usize = 100;

impl Default for ThemesMemo {
    fn default() -> Self {
        Self {
            entries: Arc::new(Mutex::new(LruCache::new(
                NonZeroUsize::new(MEMO_CAPACITY).expect("non-zero capacity"),
            ))),
        }
    }
}

impl ThemesMemo {
    /// The kept themes of `topic_id` within `division`, when they were
    /// computed from counters at `version` less than [`MEMO_MAX_AGE`] ago.
    pub fn get(
        &self,
        topic_id: i64,
        division: Option<&str>,
        version: u64,
    ) -> Option<Arc<Vec<Theme>>> {
        let mut entries = self.entries.lock().expect("themes memo poisoned");
        let key = (topic_id, division.map(str::to_owned));
        let entry = entries.get(&key)?;
        (entry.version == version && entry.at.elapsed() < MEMO_MAX_AGE)
            .then(|| entry.themes.clone())
    }

    /// Keeps `themes`, computed from counters at `version`.
    pub fn put(
        &self,
        topic_id: i64,
        division: Option<&str>,
        version: u64,
        themes: Arc<Vec<Theme>>,
    ) {
        let mut entries = self.entries.lock().expect("themes memo poisoned");
        entries.put(
            (topic_id, division.map(str::to_owned)),
            Memoised {
                version,
                at: Instant::now(),
                themes,
            },
        );
    }

    /// How many entries are kept (for tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.lock().expect("themes memo poisoned").len()
    }

    /// Whether nothing is kept.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_themes_serve_only_their_topic_division_and_counter_version() {
        let memo = ThemesMemo::default();
        let themes = Arc::new(dissent_themes([(1, "补偿标准太低")], MEMO_TOP));
        memo.put(7, None, 3, themes.clone());
        memo.put(7, Some("620123101"), 3, Arc::new(Vec::new()));
        assert_eq!(memo.get(7, None, 3), Some(themes));
        assert_eq!(memo.get(7, None, 4), None, "the counters moved");
        assert_eq!(memo.get(8, None, 3), None, "another topic");
        assert_eq!(
            memo.get(7, Some("620123101"), 3),
            Some(Arc::new(Vec::new()))
        );
    }

    #[test]
    fn the_memo_keeps_a_bounded_number_of_entries() {
        let memo = ThemesMemo::default();
        for topic in 0..(MEMO_CAPACITY as i64 * 3) {
            memo.put(topic, None, 1, Arc::new(Vec::new()));
        }
        assert_eq!(memo.len(), MEMO_CAPACITY);
        // The least recently kept went first.
        assert!(memo.get(0, None, 1).is_none());
        assert!(memo.get(MEMO_CAPACITY as i64 * 3 - 1, None, 1).is_some());
    }

    fn theme(keyword: &str, count: u32, sample_opinion_ids: &[i64]) -> Theme {
        Theme {
            keyword: keyword.to_owned(),
            count,
            sample_opinion_ids: sample_opinion_ids.to_vec(),
        }
    }

    fn keywords_of(themes: &[Theme]) -> Vec<&str> {
        themes.iter().map(|t| t.keyword.as_str()).collect()
    }

    const LAND_AND_ROADS: [(i64, &str); 4] = [
        (1, "占用耕地太多，补偿标准太低"),
        (2, "补偿标准不透明"),
        (3, "道路施工噪音影响休息"),
        (4, "征地补偿没有落实"),
    ];

    #[test]
    fn the_commonest_concern_comes_first() {
        let themes = dissent_themes(LAND_AND_ROADS, 100);
        assert_eq!(themes[0], theme("补偿", 3, &[1, 2, 4]));
        assert_eq!(themes[1], theme("标准", 2, &[1, 2]));
        // Everything else is mentioned once, so it follows in keyword order.
        assert_eq!(
            keywords_of(&themes[2..]),
            [
                "休息", "占用", "噪音", "影响", "征地", "施工", "耕地", "落实", "透明", "道路"
            ]
        );
        assert!(themes[2..].iter().all(|t| t.count == 1));
    }

    #[test]
    fn equally_common_keywords_are_ordered_by_keyword() {
        // 补偿标准 segments as 补偿 + 标准, so both are in the same two
        // reasons; 标准 (U+6807) sorts before 补偿 (U+8865).
        let themes = dissent_themes(LAND_AND_ROADS[..3].iter().copied(), 2);
        assert_eq!(
            themes,
            [theme("标准", 2, &[1, 2]), theme("补偿", 2, &[1, 2])]
        );
    }

    #[test]
    fn a_keyword_counts_once_per_opinion() {
        let themes = dissent_themes(
            [(7, "噪音噪音，还是噪音！"), (7, "晚上噪音"), (9, "噪音")],
            10,
        );
        assert_eq!(themes[0], theme("噪音", 2, &[7, 9]));
    }

    #[test]
    fn samples_are_the_smallest_opinion_ids() {
        let reasons = [70, 10, 60, 20, 50, 30, 40].map(|id| (id, "噪音扰民"));
        let themes = dissent_themes(reasons, 10);
        assert_eq!(themes[0], theme("噪音", 7, &[10, 20, 30, 40, 50]));
        assert_eq!(themes[0].sample_opinion_ids.len(), MAX_SAMPLES);
    }

    #[test]
    fn stopwords_and_punctuation_are_not_themes() {
        // Segments as 我 觉得 这个 方案 不好 ， 因为 噪音 太 大 了 ！ 2024 年.
        let themes = dissent_themes([(1, "我觉得这个方案不好，因为噪音太大了！2024年")], 10);
        assert_eq!(keywords_of(&themes), ["噪音", "方案"]);
    }

    #[test]
    fn latin_words_are_lowercased_and_english_stopwords_dropped() {
        let themes = dissent_themes(
            [(1, "The noise is TOO loud"), (2, "Noise at night, 3 times")],
            10,
        );
        assert_eq!(
            themes,
            [
                theme("noise", 2, &[1, 2]),
                theme("loud", 1, &[1]),
                theme("night", 1, &[2]),
                theme("times", 1, &[2]),
            ]
        );
    }

    #[test]
    fn full_width_latin_is_read_as_ordinary_latin() {
        let themes = dissent_themes([(1, "ＷｉＦｉ信号太差"), (2, "wifi 信号不好")], 10);
        assert_eq!(
            themes,
            [theme("wifi", 2, &[1, 2]), theme("信号", 2, &[1, 2])]
        );
    }

    #[test]
    fn empty_input_gives_no_themes() {
        assert_eq!(dissent_themes([], 10), []);
        assert_eq!(dissent_themes([(1, ""), (2, "，。！ ？")], 10), []);
    }

    #[test]
    fn top_truncates_the_list() {
        assert_eq!(
            keywords_of(&dissent_themes(LAND_AND_ROADS, 2)),
            ["补偿", "标准"]
        );
        assert_eq!(dissent_themes(LAND_AND_ROADS, 0), []);
    }

    #[test]
    fn every_stopword_is_a_word_the_filter_could_see() {
        let chinese = || CHINESE_STOPWORDS.iter().copied().flatten();
        for &word in chinese() {
            let tokens: Vec<_> = jieba()
                .cut(word, false)
                .into_iter()
                .map(|t| t.word)
                .collect();
            assert_eq!(tokens, [word], "stopword {word} is never one token");
        }
        for &word in chinese().chain(ENGLISH_STOPWORDS) {
            assert!(
                word.chars().count() >= 2,
                "{word} is dropped by length already"
            );
            assert_eq!(word, word.to_lowercase(), "{word} is compared lowercased");
        }
    }
}
