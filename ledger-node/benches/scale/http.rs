//! A minimal HTTP/1.1 client over one keep-alive loopback connection: the request goes out in
//! one write, the answer is read by its `content-length`. Written here, not taken from a
//! crate, so the measured latency holds as little client work as possible (no runtime, no
//! connection pool, no channel between threads).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};

/// How long one answer may take before the run fails (so it always stops).
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest answer header section accepted.
const HEAD_BYTES_MAX: usize = 16 * 1024;

/// One keep-alive connection.
pub(crate) struct Connection {
    reader: BufReader<TcpStream>,
    host: String,
    request: Vec<u8>,
}

/// An answer: status and body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Connection {
    /// Connects to `addr`.
    pub(crate) fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        Ok(Self {
            reader: BufReader::with_capacity(64 * 1024, stream),
            host: addr.to_string(),
            request: Vec::with_capacity(1024),
        })
    }

    /// `GET path`.
    pub(crate) fn get(&mut self, path: &str) -> Result<Answer> {
        self.request.clear();
        write!(
            self.request,
            "GET {path} HTTP/1.1\r\nhost: {}\r\naccept: application/json\r\n\r\n",
            self.host
        )?;
        self.exchange()
    }

    /// `POST path` with a JSON body.
    pub(crate) fn post_json(&mut self, path: &str, body: &[u8]) -> Result<Answer> {
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n",
            self.host,
            body.len()
        )?;
        self.request.extend_from_slice(body);
        self.exchange()
    }

    fn exchange(&mut self) -> Result<Answer> {
        self.reader.get_mut().write_all(&self.request)?;
        let (status, length) = self.read_head()?;
        let mut body = vec![0u8; length];
        self.reader
            .read_exact(&mut body)
            .context("reading an answer body")?;
        Ok(Answer { status, body })
    }

    /// The status and `content-length` of the next answer.
    fn read_head(&mut self) -> Result<(u16, usize)> {
        let mut line = String::new();
        let mut read = 0usize;
        let mut status = None;
        let mut length = None;
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line)?;
            if n == 0 {
                bail!("the server closed the connection");
            }
            read += n;
            if read > HEAD_BYTES_MAX {
                bail!("answer head over {HEAD_BYTES_MAX} bytes");
            }
            let text = line.trim_end();
            if text.is_empty() {
                break;
            }
            if status.is_none() {
                status = text.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok());
                continue;
            }
            if let Some((name, value)) = text.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        let status = status.ok_or_else(|| anyhow!("no status line"))?;
        let length = length.ok_or_else(|| anyhow!("answer without content-length"))?;
        Ok((status, length))
    }
}
