//! A real SMTP server for tests, on loopback: the `mailin` crate speaks the
//! protocol (its state machine parses commands, enforces their order,
//! undoes dot-stuffing), this module does the sockets with tokio and keeps
//! what arrives. It can be stopped and started again on the same port (an
//! outage), stop by itself after N messages (an outage mid-batch), refuse
//! recipients with 550 (a permanent rejection) or 451 (a transient one).

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use mailin::{Action, Handler, Response, SessionBuilder};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// `550 Mailbox unavailable` to every recipient.
    RejectRecipients,
    /// `451` to every recipient: try later.
    DeferRecipients,
    /// Accept this many more messages, then go down (connections refused).
    AcceptThenStop(usize),
}

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mailparse::ParsedMail<'_> {
        mailparse::parse_mail(&self.data).expect("a well-formed message")
    }

    /// A header, decoded (RFC 2047).
    pub fn header(&self, name: &str) -> Option<String> {
        use mailparse::MailHeaderMap as _;
        self.parsed().headers.get_first_value(name)
    }

    pub fn subject(&self) -> String {
        self.header("Subject").unwrap_or_default()
    }

    /// The decoded body of the first part of type `mime` (e.g. `text/html`).
    pub fn part(&self, mime: &str) -> Option<String> {
        fn find(part: &mailparse::ParsedMail<'_>, mime: &str) -> Option<String> {
            if part.subparts.is_empty() {
                return (part.ctype.mimetype == mime).then(|| part.get_body().expect("decodable"));
            }
            part.subparts.iter().find_map(|p| find(p, mime))
        }
        find(&self.parsed(), mime)
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    mode: Mutex<Option<Mode>>,
    connections: Mutex<Vec<JoinHandle<()>>>,
    /// Woken when `AcceptThenStop` has accepted its last message.
    exhausted: Notify,
}

struct Session {
    shared: Arc<Shared>,
    from: String,
    to: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        from.clone_into(&mut self.from);
        self.to.clear();
        self.data.clear();
        mailin::response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        match self.shared.mode.lock().unwrap().unwrap_or(Mode::Accept) {
            Mode::RejectRecipients => mailin::response::NO_MAILBOX,
            Mode::DeferRecipients => mailin::response::INTERNAL_ERROR,
            _ => {
                self.to.push(to.to_owned());
                mailin::response::OK
            }
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut mode = self.shared.mode.lock().unwrap();
        self.shared.received.lock().unwrap().push(Received {
            from: std::mem::take(&mut self.from),
            to: std::mem::take(&mut self.to),
            data: std::mem::take(&mut self.data),
        });
        if let Some(Mode::AcceptThenStop(n)) = *mode {
            let left = n.saturating_sub(1);
            *mode = Some(Mode::AcceptThenStop(left));
            if left == 0 {
                self.shared.exhausted.notify_one();
            }
        }
        mailin::response::OK
    }
}

/// A running (or stopped) SMTP server on a fixed loopback port.
pub struct SmtpServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl SmtpServer {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind SMTP");
        let server = Self {
            addr: listener.local_addr().expect("addr"),
            shared: Arc::default(),
            acceptor: Mutex::new(None),
        };
        server.serve(listener);
        server
    }

    /// `smtp://127.0.0.1:PORT`, plain SMTP as on a local relay.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Goes down: the port refuses connections and open sessions are cut.
    pub fn stop(&self) {
        if let Some(task) = self.acceptor.lock().unwrap().take() {
            task.abort();
        }
        for task in self.shared.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Comes back on the same port, keeping what it had received.
    pub async fn restart(&self) {
        self.stop();
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                // The aborted acceptor may take a moment to drop its socket.
                Err(_) if tries < 50 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot rebind {}: {e}", self.addr),
            }
        };
        self.set_mode(Mode::Accept);
        self.serve(listener);
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    () = shared.exhausted.notified() => return,
                };
                let Ok((stream, peer)) = accepted else {
                    continue;
                };
                let conn = tokio::spawn(session(stream, peer.ip(), shared.clone()));
                shared.connections.lock().unwrap().push(conn);
            }
        });
        *self.acceptor.lock().unwrap() = Some(task);
    }
}

async fn session(stream: tokio::net::TcpStream, ip: IpAddr, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut smtp = SessionBuilder::new("smtp.test").build(
        ip,
        Session {
            shared,
            from: String::new(),
            to: Vec::new(),
            data: Vec::new(),
        },
    );
    let mut out = Vec::new();
    smtp.greeting().write_to(&mut out).expect("buffer");
    if write.write_all(&out).await.is_err() {
        return;
    }
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let response = smtp.process(&line);
        match response.action {
            Action::NoReply => continue,
            Action::Reply | Action::Close | Action::UpgradeTls => {
                out.clear();
                response.write_to(&mut out).expect("buffer");
                if write.write_all(&out).await.is_err() || response.action != Action::Reply {
                    return;
                }
            }
        }
    }
}
