//! The `sops` metadata block over arbitrary JSON: reading never panics, and what is read
//! writes back to a tree that reads the same (master keys of other kinds aside).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealed::codec::mac;
use sealed::codec::metadata::Metadata;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(md) = Metadata::from_value(&value) else {
        return;
    };
    let back = Metadata::from_value(&md.to_value()).expect("written metadata reads back");
    let mut expected = md.clone();
    expected.foreign_keys = 0;
    assert_eq!(back, expected, "metadata write/read is not stable");
    // The MAC check path: its additional data from an arbitrary `lastmodified`, and
    // opening an arbitrary `mac` field.
    let _ = mac::mac_aad(&md.lastmodified);
    let _ = mac::open_mac(&md.mac, &sealed_fuzz::fixed_key(), &md.lastmodified);
    let _ = md.recipients().count();
});
