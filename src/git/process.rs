//! git's long-running filter protocol (`filter.<driver>.process`, see gitattributes(5) and
//! git's Documentation/technical/long-running-process-protocol): one process serves every
//! file of a checkout or an add, so identities are loaded and unlocked once.
//!
//! Handshake: git sends `git-filter-client`, `version=2`, flush; we answer
//! `git-filter-server`, `version=2`, flush. Then git lists its capabilities (git 2.47 sends
//! `clean`, `smudge` and `delay`) and we answer with the ones we support (`clean`,
//! `smudge`); unknown capabilities and unknown request keys are ignored. Per file: the
//! request keys (`command=`, `pathname=`, …), flush, the content, flush; we answer
//! `status=success`, flush, the content, flush, flush (an empty status list keeps
//! `success`) — or `status=error`, flush, and git reports the path as failed.

use std::io::{self, BufReader, BufWriter, Read, Write};

use super::filter::Filter;
use super::pktline::{read_content, read_list, write_content, write_flush, write_text};

/// Protocol failures (the stream is unusable; the process ends).
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// Reading or writing the pipe failed.
    #[error("filter protocol: {0}")]
    Io(#[from] io::Error),
    /// git said something the protocol does not allow here.
    #[error("filter protocol: {0}")]
    Unexpected(String),
}

/// Serves git on `input`/`output` until git closes the pipe.
pub fn serve(
    input: impl Read,
    output: impl Write,
    filter: &mut Filter,
) -> Result<(), ProtocolError> {
    let mut r = BufReader::new(input);
    let mut w = BufWriter::new(output);
    let hello = read_list(&mut r)?;
    if hello.first().map(String::as_str) != Some("git-filter-client")
        || !hello.iter().any(|l| l == "version=2")
    {
        return Err(ProtocolError::Unexpected(
            "expected git-filter-client with version=2".into(),
        ));
    }
    write_text(&mut w, "git-filter-server")?;
    write_text(&mut w, "version=2")?;
    write_flush(&mut w)?;
    w.flush()?;
    let offered = read_list(&mut r)?;
    for cap in ["clean", "smudge"] {
        if offered.iter().any(|c| c == &format!("capability={cap}")) {
            write_text(&mut w, &format!("capability={cap}"))?;
        }
    }
    write_flush(&mut w)?;
    w.flush()?;
    loop {
        let request = match read_list(&mut r) {
            Ok(list) => list,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let get = |k: &str| {
            request
                .iter()
                .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
                .map(str::to_string)
        };
        let command = get("command").unwrap_or_default();
        let path = get("pathname").unwrap_or_default();
        let content = zeroize::Zeroizing::new(read_content(&mut r)?);
        let result = match command.as_str() {
            "clean" => filter.clean(&path, &content),
            "smudge" => filter.smudge(&path, &content),
            other => {
                // A command we did not ask for (e.g. list_available_blobs without delay).
                eprintln!("sealed: filter: unsupported command {other:?}");
                write_text(&mut w, "status=error")?;
                write_flush(&mut w)?;
                w.flush()?;
                continue;
            }
        };
        match result {
            Ok(out) => {
                let out = zeroize::Zeroizing::new(out);
                write_text(&mut w, "status=success")?;
                write_flush(&mut w)?;
                write_content(&mut w, &out)?;
                write_flush(&mut w)?;
                write_flush(&mut w)?;
            }
            Err(e) => {
                eprintln!("sealed: {e}");
                write_text(&mut w, "status=error")?;
                write_flush(&mut w)?;
            }
        }
        w.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::pktline::{read_packet, write_packet};

    fn client(script: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut buf = Vec::new();
        write_text(&mut buf, "git-filter-client").unwrap();
        write_text(&mut buf, "version=2").unwrap();
        write_flush(&mut buf).unwrap();
        for c in ["clean", "smudge", "delay", "future-thing"] {
            write_text(&mut buf, &format!("capability={c}")).unwrap();
        }
        write_flush(&mut buf).unwrap();
        script(&mut buf);
        buf
    }

    #[test]
    fn handshake_ignores_unknown_capabilities_and_keys() {
        let input = client(|b| {
            write_text(b, "command=smudge").unwrap();
            write_text(b, "pathname=notes.txt").unwrap();
            write_text(b, "treeish=abc").unwrap();
            write_flush(b).unwrap();
            write_packet(b, b"plain text\n").unwrap();
            write_flush(b).unwrap();
        });
        let mut out = Vec::new();
        serve(&input[..], &mut out, &mut Filter::new()).unwrap();
        let mut r = &out[..];
        assert_eq!(
            read_list(&mut r).unwrap(),
            ["git-filter-server", "version=2"]
        );
        assert_eq!(
            read_list(&mut r).unwrap(),
            ["capability=clean", "capability=smudge"]
        );
        assert_eq!(read_list(&mut r).unwrap(), ["status=success"]);
        assert_eq!(read_content(&mut r).unwrap(), b"plain text\n");
        assert_eq!(read_list(&mut r).unwrap(), Vec::<String>::new());
        assert_eq!(read_packet(&mut r).unwrap(), None);
    }

    #[test]
    fn clean_refuses_what_it_cannot_encrypt() {
        let input = client(|b| {
            write_text(b, "command=clean").unwrap();
            write_text(b, "pathname=secrets.yaml").unwrap();
            write_flush(b).unwrap();
            write_packet(b, b"a: [unclosed\n").unwrap();
            write_flush(b).unwrap();
        });
        let mut out = Vec::new();
        serve(&input[..], &mut out, &mut Filter::new()).unwrap();
        let mut r = &out[..];
        read_list(&mut r).unwrap();
        read_list(&mut r).unwrap();
        assert_eq!(read_list(&mut r).unwrap(), ["status=error"]);
    }

    #[test]
    fn rejects_a_non_git_client() {
        let mut input = Vec::new();
        write_text(&mut input, "hello").unwrap();
        write_flush(&mut input).unwrap();
        assert!(serve(&input[..], &mut Vec::new(), &mut Filter::new()).is_err());
    }
}
