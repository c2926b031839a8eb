//! A TCP proxy of the test's own, between the application and a server, that
//! the test can cut (every connection closed, new ones refused) and restore:
//! an outage of that server for this application only.

use std::net::SocketAddr;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub struct TcpProxy {
    pub port: u16,
    /// Some while connections flow; cancelled (and None) while cut.
    open: Arc<Mutex<Option<CancellationToken>>>,
    acceptor: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let open = Arc::new(Mutex::new(Some(CancellationToken::new())));
        let acceptor = tokio::spawn(accept(listener, upstream, open.clone()));
        Self {
            port,
            open,
            acceptor,
        }
    }

    /// Closes every connection and refuses new ones until `restore`.
    pub fn cut(&self) {
        if let Some(connections) = self.open.lock().take() {
            connections.cancel();
        }
    }

    pub fn restore(&self) {
        self.open.lock().get_or_insert_with(CancellationToken::new);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    open: Arc<Mutex<Option<CancellationToken>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        // Taken under the lock, so a cut cannot miss a connection being set up.
        let Some(cut) = open.lock().clone() else {
            drop(client); // refused: closed at once
            continue;
        };
        tokio::spawn(pipe(client, upstream, cut));
    }
}

async fn pipe(mut client: TcpStream, upstream: SocketAddr, cut: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        () = cut.cancelled() => {}
    }
}
