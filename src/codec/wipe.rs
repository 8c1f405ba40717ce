//! Growing buffers that hold plaintext without leaving copies behind. A `Vec` or `String`
//! that outgrows its capacity frees the old allocation unwiped; these helpers grow a
//! zeroizing buffer by moving its contents into a larger allocation and wiping the old one.

use zeroize::Zeroizing;

/// Makes room for `additional` more bytes in `buf` without leaking its contents.
pub fn reserve_bytes(buf: &mut Zeroizing<Vec<u8>>, additional: usize) {
    let need = buf.len() + additional;
    if need > buf.capacity() {
        let mut bigger = Zeroizing::new(Vec::with_capacity(need.max(buf.capacity() * 2)));
        bigger.extend_from_slice(buf);
        *buf = bigger;
    }
}

/// Makes room for `additional` more bytes in `buf` without leaking its contents.
pub fn reserve_str(buf: &mut Zeroizing<String>, additional: usize) {
    let need = buf.len() + additional;
    if need > buf.capacity() {
        let mut bigger = Zeroizing::new(String::with_capacity(need.max(buf.capacity() * 2)));
        bigger.push_str(buf);
        *buf = bigger;
    }
}

/// Appends `s` to `buf` without leaking `buf`'s contents when it grows.
pub fn push_str(buf: &mut Zeroizing<String>, s: &str) {
    reserve_str(buf, s.len());
    buf.push_str(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_keeps_contents() {
        let mut s = Zeroizing::new(String::new());
        for i in 0..1000 {
            push_str(&mut s, &i.to_string());
        }
        assert!(s.starts_with("0123456789101112"));
        let mut b = Zeroizing::new(Vec::new());
        reserve_bytes(&mut b, 3);
        b.extend_from_slice(b"abc");
        reserve_bytes(&mut b, 100);
        assert_eq!(&b[..], b"abc");
        assert!(b.capacity() >= 103);
    }
}
