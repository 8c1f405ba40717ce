//! git's pkt-line framing (gitprotocol-common(5)): four hex digits of length (the four
//! included), then the payload; `0000` is a flush packet. Payloads are at most 65516 bytes.

use std::io::{self, Read, Write};

/// Largest payload of one packet.
pub const MAX_PAYLOAD: usize = 65516;

/// One packet read from the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet {
    /// `0000`.
    Flush,
    /// A data packet's payload.
    Data(Vec<u8>),
}

/// Reads one packet; `Ok(None)` at a clean end of stream.
pub fn read_packet(r: &mut impl Read) -> io::Result<Option<Packet>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let text = std::str::from_utf8(&len).map_err(|_| bad("packet length is not hex"))?;
    let n = usize::from_str_radix(text, 16).map_err(|_| bad("packet length is not hex"))?;
    match n {
        0 => Ok(Some(Packet::Flush)),
        1..=3 => Err(bad("packet length below 4")),
        _ if n - 4 > MAX_PAYLOAD => Err(bad("packet longer than 65520 bytes")),
        _ => {
            let mut buf = vec![0u8; n - 4];
            r.read_exact(&mut buf)?;
            Ok(Some(Packet::Data(buf)))
        }
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads a text packet (a `key=value` line) or a flush; the trailing newline is removed.
pub fn read_text(r: &mut impl Read) -> io::Result<Option<String>> {
    match read_packet(r)? {
        None => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended")),
        Some(Packet::Flush) => Ok(None),
        Some(Packet::Data(d)) => {
            let mut s = String::from_utf8(d).map_err(|_| bad("text packet is not UTF-8"))?;
            if s.ends_with('\n') {
                s.pop();
            }
            Ok(Some(s))
        }
    }
}

/// Reads text packets up to the next flush.
pub fn read_list(r: &mut impl Read) -> io::Result<Vec<String>> {
    let mut out = Vec::new();
    while let Some(line) = read_text(r)? {
        out.push(line);
    }
    Ok(out)
}

/// Reads data packets up to the next flush, concatenated.
pub fn read_content(r: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match read_packet(r)? {
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream ended in content",
                ));
            }
            Some(Packet::Flush) => return Ok(out),
            Some(Packet::Data(d)) => out.extend_from_slice(&d),
        }
    }
}

/// Writes one data packet.
pub fn write_packet(w: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    debug_assert!(payload.len() <= MAX_PAYLOAD);
    write!(w, "{:04x}", payload.len() + 4)?;
    w.write_all(payload)
}

/// Writes a `text\n` packet.
pub fn write_text(w: &mut impl Write, text: &str) -> io::Result<()> {
    let mut line = Vec::with_capacity(text.len() + 1);
    line.extend_from_slice(text.as_bytes());
    line.push(b'\n');
    write_packet(w, &line)
}

/// Writes a flush packet.
pub fn write_flush(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0000")
}

/// Writes content split into packets (no flush).
pub fn write_content(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    for chunk in data.chunks(MAX_PAYLOAD) {
        write_packet(w, chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let mut buf = Vec::new();
        write_text(&mut buf, "git-filter-client").unwrap();
        write_flush(&mut buf).unwrap();
        let big = vec![7u8; MAX_PAYLOAD * 2 + 5];
        write_content(&mut buf, &big).unwrap();
        write_flush(&mut buf).unwrap();
        assert!(buf.starts_with(b"0016git-filter-client\n0000"));
        let mut r = &buf[..];
        assert_eq!(
            read_list(&mut r).unwrap(),
            vec!["git-filter-client".to_string()]
        );
        assert_eq!(read_content(&mut r).unwrap(), big);
        assert_eq!(read_packet(&mut r).unwrap(), None);
    }

    #[test]
    fn rejects_garbage() {
        assert!(read_packet(&mut &b"zzzz"[..]).is_err());
        assert!(read_packet(&mut &b"0002"[..]).is_err());
        assert!(read_packet(&mut &b"ffff"[..]).is_err());
        assert!(read_content(&mut &b"0008ab"[..]).is_err());
    }
}
