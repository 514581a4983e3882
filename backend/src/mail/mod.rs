//! Email: what each outbox message says ([`templates`]) and how the outbox
//! reaches an SMTP relay ([`worker`]). Messages are queued by the domain
//! (`domain::outbox`) in the transaction of the event that causes them; this
//! module only reads the queue.

pub mod digest;
pub mod templates;
pub mod worker;

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use self::templates::Rendered;

/// How long one SMTP conversation may take before it counts as a transient
/// failure; well inside the claim lease, so a slow relay cannot make two
/// workers send the same message.
pub(crate) const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

/// An SMTP relay and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    // The transport holds the relay credentials: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The relay refused this message for now (4xx): try it again later.
    Transient(String),
    /// The relay could not be reached or talked to (connection refused,
    /// timeout, TLS, 421): no message will get through for a while.
    Unreachable(String),
    /// Will never succeed as it stands: a 5xx rejection, a bad address.
    Permanent(String),
}

impl Mailer {
    /// A relay from a URL as lettre reads it: `smtp://host:25`,
    /// `smtps://user:pass@host:465`, `smtp://host:587?tls=required`
    /// (STARTTLS), sending as `from`.
    ///
    /// # Errors
    /// When the URL or the sender address cannot be parsed; the message never
    /// repeats the URL, which may hold a password.
    pub fn from_url(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|_| {
                anyhow::anyhow!(
                    "SMTP_URL is not an SMTP URL such as smtp://host:25 or smtps://user:pass@host:465"
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from
            .parse()
            .with_context(|| format!("YISHI_MAIL_FROM {from:?} is not an address"))?;
        Ok(Self { transport, from })
    }

    /// Sends `message` to `recipient` as multipart text + HTML, with a
    /// Message-ID derived from `message_key` so a receiving system can tell a
    /// resend from a new message, and with `unsubscribe` (a URL) as
    /// one-click `List-Unsubscribe` headers (RFC 8058).
    ///
    /// # Errors
    /// A [`SendError`] saying whether to try again.
    pub async fn send(
        &self,
        recipient: &str,
        message_key: &str,
        message: &Rendered,
        unsubscribe: Option<&str>,
    ) -> Result<(), SendError> {
        let to: Mailbox = recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient {recipient:?}: {e}")))?;
        let domain = self.from.email.domain().to_owned();
        let mut builder = Message::builder();
        if let Some(url) = unsubscribe {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        let email = builder
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(format!("<{message_key}@{domain}>")))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(message.text.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(message.html.clone()),
                    ),
            )
            .map_err(|e| SendError::Permanent(format!("cannot build the message: {e}")))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(SendError::Permanent(e.to_string())),
            // 421: the relay is closing the connection (overloaded, going
            // down), which says nothing about this message.
            Err(e) if e.is_transient() && e.status().is_some_and(|c| c.to_string() != "421") => {
                Err(SendError::Transient(e.to_string()))
            }
            Err(e) => Err(SendError::Unreachable(hint(&e))),
        }
    }
}

/// The SMTP error with a hint an operator can act on.
fn hint(err: &lettre::transport::smtp::Error) -> String {
    let text = err.to_string();
    if err.is_tls() {
        format!(
            "{text} (check the TLS mode: smtps:// for port 465, ?tls=required for STARTTLS on 587)"
        )
    } else if err.is_timeout() {
        format!("{text} (the relay did not answer in time)")
    } else {
        text
    }
}

type HeaderError = Box<dyn std::error::Error + Send + Sync>;

/// `List-Unsubscribe: <URL>` (RFC 2369): where mail clients send the
/// recipient who presses their own "unsubscribe" button.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, HeaderError> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the
/// client may unsubscribe with one POST, without opening a page.
#[derive(Debug, Clone)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, HeaderError> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}
