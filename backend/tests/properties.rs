//! Property tests of input validation: whatever a client sends, parsing never
//! panics, and what it accepts has the shape the rest of the code relies on.

use proptest::prelude::*;

use yishi::domain::accounts::Email;
use yishi::domain::divisions::{self, Level};
use yishi::error::Error;
use yishi::rate_limit::{Action, ActionQuota, RateLimitSettings, RateLimits};

const LEVEL_LENS: [usize; 5] = [2, 4, 6, 9, 12];

proptest! {
    #[test]
    fn any_text_either_parses_to_a_lowercase_address_or_is_bad_input(raw in "\\PC{0,80}") {
        match Email::parse(&raw) {
            Ok(email) => {
                let s = email.as_str();
                prop_assert_eq!(s, s.to_lowercase());
                prop_assert_eq!(s, s.trim());
                prop_assert!(s.len() <= 254);
                let (local, domain) = s.rsplit_once('@').expect("an @");
                prop_assert!(!local.is_empty());
                prop_assert!(domain.contains('.') && !domain.ends_with('.'));
                // Parsing what was accepted gives it back unchanged.
                let again = Email::parse(s).unwrap();
                prop_assert_eq!(again.as_str(), s);
            }
            Err(Error::BadInput { field, .. }) => prop_assert_eq!(field, Some("email")),
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn ordinary_addresses_are_accepted_in_any_case_and_padding(
        local in "[a-zA-Z0-9][a-zA-Z0-9._+-]{0,20}[a-zA-Z0-9]",
        host in "[a-zA-Z0-9]{1,20}",
        tld in "[a-zA-Z]{2,6}",
        pad in " {0,3}",
    ) {
        prop_assume!(!local.contains(".."));
        let raw = format!("{pad}{local}@{host}.{tld}{pad}");
        let email = Email::parse(&raw).unwrap();
        prop_assert_eq!(email.as_str(), format!("{local}@{host}.{tld}").to_lowercase());
    }

    #[test]
    fn division_codes_normalise_to_a_short_code_of_a_level(raw in "\\PC{0,14}|[0-9]{1,13}") {
        if let Ok(code) = divisions::normalize_code(&raw, "code") {
            prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(LEVEL_LENS.contains(&code.len()), "{code}");
            prop_assert!(divisions::level_of(&code).is_some());
            // Normalising is idempotent.
            prop_assert_eq!(divisions::normalize_code(&code, "code").unwrap(), code);
        }
    }

    #[test]
    fn a_twelve_digit_code_survives_the_round_trip(raw in "[0-9]{12}") {
        let short = divisions::normalize_code(&raw, "code").unwrap();
        prop_assert_eq!(divisions::full_code(&short), raw.clone());
        // The short form sits inside every ancestor it names.
        for ancestor in divisions::ancestor_codes(&short) {
            prop_assert!(divisions::contains(&ancestor, &short));
        }
    }

    #[test]
    fn short_codes_of_every_level_are_kept(len in prop::sample::select(&LEVEL_LENS[..4]), digits in "[0-9]{12}") {
        let code = &digits[..len];
        prop_assert_eq!(divisions::normalize_code(code, "code").unwrap(), code);
        prop_assert_eq!(
            divisions::level_of(code).map(Level::code_len),
            Some(len)
        );
    }

    #[test]
    fn a_quota_lets_exactly_its_burst_through(quota in 1u32..50, accounts in 1usize..5) {
        let mut settings = RateLimitSettings::default();
        let login = Action::ALL.iter().position(|a| *a == Action::Login).unwrap();
        settings.quotas[login] = ActionQuota { per_ip: 0, per_account: quota };
        let limits = RateLimits::new(&settings);
        for a in 0..accounts {
            let account = format!("user{a}@example.cn");
            let passed = (0..quota + 5)
                .filter(|_| limits.check(Action::Login, None, Some(&account)).is_ok())
                .count();
            prop_assert_eq!(passed, quota as usize);
        }
    }
}
