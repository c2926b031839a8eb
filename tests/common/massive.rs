//! A fake Massive WebSocket server over a real socket (plain or TLS), speaking
//! the real protocol: `connected` status, auth, `auth_success`/`auth_failed`,
//! subscribe confirmations, batched event arrays.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    Accept,
    RejectAuth,
    /// Authenticates, then says another client took the key and closes.
    MaxConnections,
}

pub enum Command {
    Send(String),
    /// Sends a frame of trades every interval until the connection ends.
    Stream(Duration),
    /// Drops the TCP connection without a WebSocket close frame.
    Drop,
    /// Stops reading and writing but keeps the socket open (a dead peer).
    Freeze,
}

#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub api_key: Option<String>,
    pub subscriptions: Vec<String>,
}

struct Record {
    info: Connection,
    commands: mpsc::UnboundedSender<Command>,
}

#[derive(Clone)]
pub struct FakeMassive {
    pub url: String,
    pub port: u16,
    records: Arc<Mutex<Vec<Record>>>,
}

/// A test certificate authority and a `localhost` certificate it signed.
pub struct TestCa {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestCa {
    pub fn new() -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "TickStock test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let server_key = rcgen::KeyPair::generate().expect("key");
        let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .expect("params")
            .signed_by(&server_key, &ca, &ca_key)
            .expect("server certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server_config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![server.der().clone()],
                rustls_pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .expect("server config");
        Self {
            ca_pem: ca.pem(),
            server_config: Arc::new(server_config),
        }
    }
}

impl FakeMassive {
    pub async fn start(behaviour: Behaviour) -> Self {
        Self::start_on(0, behaviour, None).await
    }

    pub async fn start_tls(behaviour: Behaviour, ca: &TestCa) -> Self {
        Self::start_on(0, behaviour, Some(ca.server_config.clone())).await
    }

    pub async fn start_on(
        port: u16,
        behaviour: Behaviour,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind fake Massive");
        let port = listener.local_addr().expect("addr").port();
        let url = match tls {
            Some(_) => format!("wss://localhost:{port}/stocks"),
            None => format!("ws://127.0.0.1:{port}/stocks"),
        };
        let records: Arc<Mutex<Vec<Record>>> = Arc::default();
        let shared = records.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (commands, rx) = mpsc::unbounded_channel();
                let index = {
                    let mut records = shared.lock();
                    records.push(Record {
                        info: Connection::default(),
                        commands,
                    });
                    records.len() - 1
                };
                let shared = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(config) => {
                            let acceptor = tokio_rustls::TlsAcceptor::from(config);
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, index, shared, behaviour, rx).await;
                            }
                        }
                        None => serve(tcp, index, shared, behaviour, rx).await,
                    }
                });
            }
        });
        Self { url, port, records }
    }

    pub fn connections(&self) -> usize {
        self.records.lock().len()
    }

    pub fn connection(&self, index: usize) -> Option<Connection> {
        self.records.lock().get(index).map(|r| r.info.clone())
    }

    /// Sends a command to the newest connection.
    pub fn command(&self, command: Command) {
        if let Some(record) = self.records.lock().last() {
            let _ = record.commands.send(command);
        }
    }
}

fn status(status: &str, message: &str) -> Message {
    Message::text(
        serde_json::json!([{"ev": "status", "status": status, "message": message}]).to_string(),
    )
}

pub fn trades_frame(count: usize, symbol: &str) -> String {
    let now = chrono::Utc::now().timestamp_millis();
    let trades: Vec<Value> = (0..count)
        .map(|i| serde_json::json!({"ev": "T", "sym": symbol, "p": 100.0 + i as f64 / 100.0, "s": 100, "t": now, "x": 4, "i": i.to_string(), "z": 3}))
        .collect();
    Value::Array(trades).to_string()
}

async fn serve<S>(
    stream: S,
    index: usize,
    records: Arc<Mutex<Vec<Record>>>,
    behaviour: Behaviour,
    mut commands: mpsc::UnboundedReceiver<Command>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut tx, mut rx) = ws.split();
    if tx
        .send(status("connected", "Connected Successfully"))
        .await
        .is_err()
    {
        return;
    }
    // Authentication.
    let key = loop {
        match rx.next().await {
            Some(Ok(Message::Text(text))) => {
                let message: Value = serde_json::from_str(&text).unwrap_or_default();
                if message["action"] == "auth" {
                    break message["params"].as_str().unwrap_or_default().to_string();
                }
            }
            Some(Ok(_)) => continue,
            _ => return,
        }
    };
    records.lock()[index].info.api_key = Some(key);
    match behaviour {
        Behaviour::RejectAuth => {
            let _ = tx
                .send(status("auth_failed", "authentication failed"))
                .await;
            let _ = tx.send(Message::Close(None)).await;
            return;
        }
        Behaviour::MaxConnections => {
            let _ = tx.send(status("auth_success", "authenticated")).await;
            let _ = tx
                .send(status(
                    "max_connections",
                    "Maximum number of websocket connections exceeded.",
                ))
                .await;
            let _ = tx.send(Message::Close(None)).await;
            return;
        }
        Behaviour::Accept => {
            if tx
                .send(status("auth_success", "authenticated"))
                .await
                .is_err()
            {
                return;
            }
        }
    }
    let mut streaming: Option<tokio::time::Interval> = None;
    loop {
        let stream_tick = async {
            match streaming.as_mut() {
                Some(interval) => {
                    interval.tick().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            message = rx.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).unwrap_or_default();
                    if message["action"] == "subscribe" {
                        let params = message["params"].as_str().unwrap_or_default().to_string();
                        records.lock()[index]
                            .info
                            .subscriptions
                            .extend(params.split(',').map(str::to_owned));
                        if tx.send(status("success", &format!("subscribed to: {params}"))).await.is_err() {
                            return;
                        }
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            command = commands.recv() => match command {
                Some(Command::Send(frame)) => {
                    if tx.send(Message::text(frame)).await.is_err() {
                        return;
                    }
                }
                Some(Command::Stream(every)) => streaming = Some(tokio::time::interval(every)),
                Some(Command::Drop) | None => return,
                Some(Command::Freeze) => break,
            },
            () = stream_tick => {
                if tx.send(Message::text(trades_frame(10, "AAPL"))).await.is_err() {
                    return;
                }
            }
        }
    }
    // Frozen: hold the socket open, reading and answering nothing.
    let _open = (tx, rx);
    std::future::pending::<()>().await;
}
