//! What of a topic's tallies may be shown to someone who may not read its
//! opinions: the one rule behind every public route to a count (results at
//! any level and `within`, `overall`, live pushes, the dashboard).
//!
//! k-anonymity is a promise to residents: nobody who may not read opinions
//! learns the responses of a division that has between 1 and k−1 of them,
//! not from one answer and not by combining answers (a township's total
//! minus the villages shown beside it, a county's rows minus its townships').
//!
//! # The rule
//!
//! One *pattern* per topic and counter version, computed top-down over the
//! whole division tree of the topic's scope from the per-village counters:
//!
//! 1. The scope itself is withheld when it has 1..k−1 responses; then
//!    nothing at all is shown.
//! 2. Under every shown division, the children with 1..k−1 responses are
//!    suppressed. If they add up to less than k, the smallest other child
//!    with responses is suppressed with them (complementary suppression):
//!    a shown parent has at least k responses, so one such child always
//!    exists and always lifts the group to k or more. The suppressed
//!    children of one parent are published only together, as one *folded*
//!    row (code: the parent) holding at least two divisions.
//! 3. Everything below a suppressed division is suppressed too, and at any
//!    finer level folds into the same group row as its topmost suppressed
//!    ancestor. Divisions with no responses under a shown parent are shown
//!    (a zero reveals no vote).
//!
//! Every answer is a projection of this one pattern: `within` and `level`
//! choose which shown divisions and group rows to list, never what is
//! suppressed, and `overall` is the total of `within` only when `within`
//! itself is shown.
//!
//! # Why nothing under k can be derived
//!
//! Everything published is the sum over some set of villages: a shown
//! division, or a group of suppressed siblings. These sets are laminar
//! (any two are nested or disjoint), and no published set lies strictly
//! inside a suppressed division. So every published sum holds all the
//! villages of a topmost suppressed division `A` or none of them, and every
//! sum that touches `A`'s group holds the whole group. A linear combination
//! of published sums therefore gives the same weight to all villages of `A`
//! and to all members of its group; a single village `v` can only be
//! isolated if it were `A` alone in a group of one, which rule 2 never
//! makes. Each published sum is 0 or at least k: shown divisions are, by
//! rule 2, and groups are by construction. The property test
//! (`no_small_village_can_be_derived_from_every_public_answer`) checks this
//! with exact rank arithmetic over random trees and tallies.
//!
//! The pattern costs one pass over the villages per counter version; the
//! projections then look up each village's suppressed ancestor by binary
//! search among the (few) suppressed subtrees.

use super::authz::{Action, Actor};
use super::divisions::Level;
use super::topics::Topic;

/// Whether `actor` sees `topic`'s tallies in full, small cells included:
/// exactly those who may read its opinions (organisers and supervisors of
/// its scope), the rule the opinion list itself enforces.
#[must_use]
pub fn reads_opinions(actor: &Actor, topic: &Topic) -> bool {
    actor.may(Action::ReadOpinions, &topic.scope_code)
}

/// A suppressed subtree: its topmost division and the row it folds into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// The topmost suppressed division of the subtree.
    pub code: String,
    /// Length of the code of the division whose folded row stands for this
    /// subtree (its parent); `None` when the whole scope is withheld.
    pub group: Option<usize>,
}

impl Hidden {
    /// The code of the folded row this subtree is published in, if any.
    #[must_use]
    pub fn group_code(&self) -> Option<&str> {
        self.group.map(|len| &self.code[..len])
    }
}

/// What is suppressed of one topic at one counter version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pattern {
    /// Topmost suppressed divisions, in code order; their subtrees are
    /// disjoint.
    hidden: Vec<Hidden>,
}

/// One division of the tree while the pattern is computed.
struct Node {
    /// Index of its first village.
    first: usize,
    total: i64,
    /// Index of its parent one depth up.
    parent: usize,
}

impl Pattern {
    /// The pattern for the villages of `scope`, given in code order with
    /// their responses, for the smallest cell `k`.
    #[must_use]
    pub fn compute<'a>(
        scope: &str,
        villages: impl IntoIterator<Item = (&'a str, i64)>,
        k: i64,
    ) -> Self {
        let villages: Vec<(&str, i64)> = villages
            .into_iter()
            .filter(|(code, _)| code.starts_with(scope))
            .collect();
        // Code lengths of the levels from the scope down to the villages.
        let lens: Vec<usize> = std::iter::once(scope.len())
            .chain(
                Level::ALL
                    .iter()
                    .map(|l| l.code_len())
                    .filter(|len| *len > scope.len()),
            )
            .collect();
        let small = |total: i64| total > 0 && total < k;
        let root_total: i64 = villages.iter().map(|(_, n)| n).sum();
        if small(root_total) {
            return Self {
                hidden: vec![Hidden {
                    code: scope.to_owned(),
                    group: None,
                }],
            };
        }
        // The tree, depth by depth; children of a node are consecutive.
        let mut depths: Vec<Vec<Node>> = vec![vec![Node {
            first: 0,
            total: root_total,
            parent: 0,
        }]];
        for &len in &lens[1..] {
            let above = depths.last().expect("the root is there");
            let mut nodes: Vec<Node> = Vec::new();
            let mut parent = 0;
            for (i, (code, total)) in villages.iter().enumerate() {
                let Some(prefix) = code.get(..len) else {
                    continue;
                };
                while parent + 1 < above.len() && above[parent + 1].first <= i {
                    parent += 1;
                }
                match nodes.last_mut() {
                    Some(node) if villages[node.first].0.get(..len) == Some(prefix) => {
                        node.total += total;
                    }
                    _ => nodes.push(Node {
                        first: i,
                        total: *total,
                        parent,
                    }),
                }
            }
            depths.push(nodes);
        }
        // Top-down: a shown parent decides which of its children are shown.
        let mut hidden = Vec::new();
        let mut shown_above = vec![true];
        for depth in 1..depths.len() {
            let nodes = &depths[depth];
            let mut shown = vec![true; nodes.len()];
            let mut start = 0;
            while start < nodes.len() {
                let parent = nodes[start].parent;
                let end = start
                    + nodes[start..]
                        .iter()
                        .take_while(|n| n.parent == parent)
                        .count();
                let siblings = start..end;
                if !shown_above[parent] {
                    shown[siblings].iter_mut().for_each(|s| *s = false);
                } else {
                    let mut group: Vec<usize> = siblings
                        .clone()
                        .filter(|&i| small(nodes[i].total))
                        .collect();
                    let sum: i64 = group.iter().map(|&i| nodes[i].total).sum();
                    if !group.is_empty() && sum < k {
                        // The smallest sibling with responses that is shown
                        // (it has at least k, so one is enough).
                        if let Some(extra) = siblings
                            .clone()
                            .filter(|&i| nodes[i].total >= k)
                            .min_by_key(|&i| nodes[i].total)
                        {
                            group.push(extra);
                        }
                    }
                    for i in group {
                        shown[i] = false;
                        let code = villages[nodes[i].first].0;
                        hidden.push(Hidden {
                            code: code[..lens[depth]].to_owned(),
                            group: Some(lens[depth - 1]),
                        });
                    }
                }
                start = end;
            }
            shown_above = shown;
        }
        hidden.sort_by(|a, b| a.code.cmp(&b.code));
        Self { hidden }
    }

    /// The suppressed subtree holding division `code`, if any.
    #[must_use]
    pub fn hidden_top(&self, code: &str) -> Option<&Hidden> {
        self.cursor(code).hidden_top(code)
    }

    /// A reader of [`Pattern::hidden_top`] for divisions asked in code order
    /// from `from` on: amortised constant time per division, where the
    /// binary search costs a logarithm of the hidden subtrees.
    #[must_use]
    pub fn cursor(&self, from: &str) -> Cursor<'_> {
        // Subtrees are disjoint and sorted: those before `from`'s own
        // ancestors end before it.
        let at = self
            .hidden
            .partition_point(|h| h.code.as_str() < from && !from.starts_with(h.code.as_str()));
        Cursor {
            hidden: &self.hidden,
            at,
        }
    }

    /// Whether division `code` is shown on its own.
    #[must_use]
    pub fn is_shown(&self, code: &str) -> bool {
        self.hidden_top(code).is_none()
    }

    /// The topmost suppressed divisions, in code order.
    #[must_use]
    pub fn hidden(&self) -> &[Hidden] {
        &self.hidden
    }
}

/// See [`Pattern::cursor`].
#[derive(Debug, Clone)]
pub struct Cursor<'p> {
    hidden: &'p [Hidden],
    at: usize,
}

impl<'p> Cursor<'p> {
    /// The suppressed subtree holding `code`; codes must come in order.
    pub fn hidden_top(&mut self, code: &str) -> Option<&'p Hidden> {
        while let Some(h) = self.hidden.get(self.at) {
            if code.starts_with(h.code.as_str()) {
                return Some(h);
            }
            if h.code.as_str() > code {
                return None;
            }
            self.at += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(villages: &[(&str, i64)], scope: &str, k: i64) -> Pattern {
        Pattern::compute(scope, villages.iter().copied(), k)
    }

    #[test]
    fn one_small_village_is_hidden_with_its_smallest_shown_sibling() {
        let p = pattern(
            &[
                ("620123101201", 9),
                ("620123101202", 2),
                ("620123101203", 6),
                ("620123101204", 0),
            ],
            "620123101",
            5,
        );
        let codes: Vec<&str> = p.hidden().iter().map(|h| h.code.as_str()).collect();
        assert_eq!(codes, ["620123101202", "620123101203"]);
        assert!(p.is_shown("620123101201"));
        assert!(p.is_shown("620123101204"), "a zero reveals no vote");
        assert_eq!(
            p.hidden_top("620123101203").and_then(Hidden::group_code),
            Some("620123101")
        );
    }

    #[test]
    fn small_siblings_that_reach_k_together_need_no_complement() {
        let p = pattern(
            &[
                ("620123101201", 9),
                ("620123101202", 2),
                ("620123101203", 3),
            ],
            "620123101",
            5,
        );
        assert_eq!(p.hidden().len(), 2);
        assert!(p.is_shown("620123101201"));
    }

    #[test]
    fn a_small_township_hides_all_its_villages_in_the_county_group() {
        let p = pattern(
            &[
                ("620123100001", 3),
                ("620123100002", 0),
                ("620123101201", 9),
                ("620123101202", 8),
            ],
            "620123",
            5,
        );
        let top = p
            .hidden_top("620123100002")
            .expect("under a small township");
        assert_eq!(top.code, "620123100");
        assert_eq!(top.group_code(), Some("620123"));
        assert_eq!(
            p.hidden_top("620123101201").map(|h| h.code.as_str()),
            Some("620123101"),
            "the complement is the other township, villages and all"
        );
    }

    #[test]
    fn the_cursor_agrees_with_the_search() {
        let villages = [
            ("620123100001", 3),
            ("620123100002", 0),
            ("620123101201", 9),
            ("620123101202", 2),
            ("620123101203", 7),
            ("620123101204", 12),
        ];
        let p = pattern(&villages, "620123", 5);
        for from in ["620123", "620123101", "620123101203"] {
            let mut cursor = p.cursor(from);
            for (code, _) in villages.iter().filter(|(c, _)| *c >= from) {
                assert_eq!(cursor.hidden_top(code), p.hidden_top(code), "{code}");
            }
        }
    }

    #[test]
    fn a_small_scope_withholds_everything() {
        let p = pattern(&[("620123101201", 3), ("620123101202", 1)], "620123101", 5);
        assert_eq!(
            p.hidden(),
            [Hidden {
                code: "620123101".into(),
                group: None
            }]
        );
        assert!(!p.is_shown("620123101202"));
        assert!(pattern(&[("620123101201", 0)], "620123101", 5).is_shown("620123101"));
    }
}
