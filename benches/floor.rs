//! The floor of encrypting and decrypting a file: what no implementation of SOPS's format
//! can skip — read the file, parse it, one AES-256-GCM (and base64) per value, the SHA-512
//! MAC, write the result — measured in-process with sealed's own parsers and codec, without
//! selection rules, spellings, metadata or verification. `bench/run` prints it beside
//! sealed and its peers; the target is "within 2× of the floor".
//!
//! Usage: `cargo bench --bench floor -- FILE...` (plaintext files; .yaml/.json/.env):
//! prints one JSON line per file and direction ({"row", "tool": "floor", "median_s"}),
//! in-process medians. `floor encrypt FILE` / `floor decrypt FILE.floor` do one pass and
//! exit, so that `bench/run` times the floor as a process, like sealed and sops (start,
//! page faults and all); `floor prepare FILE` writes FILE.floor, the input of `decrypt`.

use std::io::Write;
use std::time::Instant;

use sealed::codec::mac::MacHasher;
use sealed::codec::token::{self, DataKey, TokenText};
use sealed::codec::value;
use sealed::format::{Item, Syntax};
use zeroize::Zeroizing;

const RUNS: usize = 10;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Read, parse, seal every value into the output, MAC, write: returns the ciphertext.
fn encrypt_floor(path: &str, syntax: Syntax, key: &DataKey) -> String {
    let src = std::fs::read_to_string(path).expect("readable input");
    let outline = syntax.format().parse_lean(&src).expect("parsable input");
    let mut out = String::with_capacity(src.len() * 4);
    let mut mac = MacHasher::new(false);
    let mut plain = Zeroizing::new(Vec::new());
    let mut sealer = token::Sealer::new(key);
    let (mut aad, mut tok) = (String::new(), String::new());
    let mut at = 0;
    let mut iv = [7u8; 32];
    for doc in &outline.docs {
        for item in &doc.items {
            if let Item::Leaf(leaf) = item
                && let Some(kind) = value::encode_into(&leaf.value, &mut plain)
            {
                mac.add(&plain, true);
                out.push_str(&src[at..leaf.span.start]);
                aad.clear();
                leaf.path.write_aad(&mut aad);
                iv[0] = iv[0].wrapping_add(1);
                tok.clear();
                sealer.seal_into(&mut tok, &plain, aad.as_bytes(), kind, &iv);
                syntax.format().write_token(leaf, &tok, &mut out);
                at = leaf.span.end;
            }
        }
    }
    out.push_str(&src[at..]);
    std::hint::black_box(mac.finish());
    out
}

/// Read, parse, open every token into the output, MAC, write.
fn decrypt_floor(src: &str, syntax: Syntax, key: &DataKey, sink: &mut dyn Write) {
    let outline = syntax.format().parse_lean(src).expect("parsable input");
    let mut out = Zeroizing::new(String::with_capacity(src.len()));
    let mut mac = MacHasher::new(false);
    let mut plain = Zeroizing::new(Vec::new());
    let mut aad = String::new();
    let mut at = 0;
    for doc in &outline.docs {
        for item in &doc.items {
            if let Item::Leaf(leaf) = item
                && let sealed::format::Scalar::Str(s) = &leaf.value
                && let Ok(t) = TokenText::split(s)
            {
                aad.clear();
                leaf.path.write_aad(&mut aad);
                if t.open_into(key, aad.as_bytes(), &mut plain).is_ok() {
                    mac.add(&plain, true);
                    out.push_str(&src[at..leaf.span.start]);
                    out.push_str(std::str::from_utf8(&plain).unwrap_or(""));
                    at = leaf.span.end;
                }
            }
        }
    }
    out.push_str(&src[at..]);
    sink.write_all(out.as_bytes()).expect("output");
    std::hint::black_box(mac.finish());
}

/// A fixed key: `prepare` and `decrypt` run in different processes.
fn fixed_key() -> DataKey {
    DataKey::from_slice(&[42u8; 32]).expect("32 bytes")
}

fn one_pass(mode: &str, path: &str) {
    let syntax = Syntax::from_path(std::path::Path::new(path.trim_end_matches(".floor")))
        .expect("a .yaml, .json or .env file");
    let key = fixed_key();
    match mode {
        "encrypt" => {
            let out = encrypt_floor(path, syntax, &key);
            std::io::stdout().write_all(out.as_bytes()).expect("stdout");
        }
        "prepare" => {
            let out = encrypt_floor(path, syntax, &key);
            std::fs::write(format!("{path}.floor"), out).expect("writable");
        }
        _ => {
            let src = std::fs::read_to_string(path).expect("readable ciphertext");
            decrypt_floor(&src, syntax, &key, &mut std::io::stdout().lock());
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [mode, path] = &args[..]
        && matches!(mode.as_str(), "encrypt" | "decrypt" | "prepare")
    {
        return one_pass(mode, path);
    }
    let key = DataKey::generate();
    for path in std::env::args().skip(1).filter(|a| !a.starts_with("--")) {
        let Some(syntax) = Syntax::from_path(std::path::Path::new(&path)) else {
            eprintln!("floor: skipping {path}: unknown syntax");
            continue;
        };
        let name = std::path::Path::new(&path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .trim_start_matches("values-")
            .to_string();
        let ext = path.rsplit('.').next().unwrap_or("");
        let mut enc = Vec::new();
        let mut ciphertext = String::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            ciphertext = encrypt_floor(&path, syntax, &key);
            std::io::sink()
                .write_all(ciphertext.as_bytes())
                .expect("sink");
            enc.push(t.elapsed().as_secs_f64());
        }
        let tmp = std::env::temp_dir().join(format!("sealed-floor-{}.{ext}", std::process::id()));
        std::fs::write(&tmp, &ciphertext).expect("writable temp dir");
        let mut dec = Vec::new();
        for _ in 0..RUNS {
            let t = Instant::now();
            let src = std::fs::read_to_string(&tmp).expect("readable ciphertext");
            decrypt_floor(&src, syntax, &key, &mut std::io::sink());
            dec.push(t.elapsed().as_secs_f64());
        }
        let _ = std::fs::remove_file(&tmp);
        for (dir, times) in [("encrypt", enc), ("decrypt", dec)] {
            println!(
                "{{\"row\": \"{dir} {ext} {name} values\", \"tool\": \"floor\", \"median_s\": {}, \"rss_kb\": 0}}",
                median(times)
            );
        }
    }
}
