//! Email: what each outbox message says ([`templates`]) and how the outbox
//! reaches an SMTP relay ([`worker`]). Messages are queued by the domain
//! (`domain::outbox`) in the transaction of the event that causes them; this
//! module only reads the queue.

pub mod templates;
pub mod worker;

use std::time::Duration;

use anyhow::Context as _;
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use self::templates::Rendered;

/// How long one SMTP conversation may take before it counts as a transient
/// failure; well inside the claim lease, so a slow relay cannot make two
/// workers send the same message.
const SMTP_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// Worth trying again later: the relay is down, busy (4xx) or slow.
    Transient(String),
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
    /// resend from a new message.
    ///
    /// # Errors
    /// A [`SendError`] saying whether to try again.
    pub async fn send(
        &self,
        recipient: &str,
        message_key: &str,
        message: &Rendered,
    ) -> Result<(), SendError> {
        let to: Mailbox = recipient
            .parse()
            .map_err(|e| SendError::Permanent(format!("recipient {recipient:?}: {e}")))?;
        let domain = self.from.email.domain().to_owned();
        let email = Message::builder()
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
            // 4xx, refused connections, timeouts, TLS trouble: the relay may
            // be back later.
            Err(e) => Err(SendError::Transient(hint(&e))),
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
