//! git's long-running filter protocol over arbitrary bytes: `git::process::serve` with a
//! real `Filter` never panics and ends (the stream is finite). Seeds from `fuzz/seed.sh`
//! wrap plaintext and encrypted documents in well-formed sessions, so the clean and smudge
//! paths behind the framing are reached too.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // No repository, no `.sops.yaml` and no identity of the user running the fuzzer:
        // an empty working directory (git2 finds no repository above the temp dir).
        let dir = std::env::temp_dir().join(format!("sealed-fuzz-git-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the working directory");
        std::env::set_current_dir(&dir).expect("enter the working directory");
    },
    |data: &[u8]| sealed_fuzz::check_pktline(data)
);
