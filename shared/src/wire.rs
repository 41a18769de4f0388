//! Evidence frames on the wire: zlib (RFC 1950) with a preset dictionary.
//!
//! An evidence frame is JSON of a few kilobytes whose keys repeat and whose values are mostly
//! AWS names. zlib alone roughly thirds it; a preset dictionary of the wire format's own
//! skeleton and common AWS vocabulary ([`DICTIONARY`]: keys, kinds, namespaces, metric names,
//! CloudTrail sources and verbs — nothing of any one account) takes a further quarter off, since
//! the first occurrence of each string can already point back into it.
//!
//! The control plane announces the encodings it reads in its welcome; the agent then sends
//! evidence as binary websocket messages in [`ENCODING`] and everything else as text. The zlib
//! header names the dictionary by its Adler-32 checksum, so a frame compressed with a different
//! dictionary is refused rather than misread, and the trailer's checksum catches corruption.
//! Decompression stops at a size limit (a small message cannot inflate into a large one).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The encoding's name in [`crate::protocol::ServerFrame::Welcome`].
pub const ENCODING: &str = "zlib-dict-1";

/// The preset dictionary. Changing it is a new encoding (a new [`ENCODING`] name).
pub static DICTIONARY: &[u8] = include_bytes!("wire_dictionary.txt");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("compressed frame inflates beyond {max} bytes")]
    TooLarge { max: usize },
    #[error("compressed frame uses another dictionary (Adler-32 {found:#010x})")]
    WrongDictionary { found: u32 },
    #[error("compressed frame is not valid {ENCODING}: {0}")]
    Corrupt(String),
}

/// `text` compressed in [`ENCODING`].
pub fn compress(text: &[u8]) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), true);
    c.set_dictionary(DICTIONARY)
        .unwrap_or_else(|e| unreachable!("a fresh stream takes a dictionary: {e}"));
    let mut out = Vec::with_capacity(text.len() / 2 + 64);
    loop {
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&text[consumed..], &mut out, FlushCompress::Finish)
            .unwrap_or_else(|e| unreachable!("in-memory compression does not fail: {e}"));
        if status == Status::StreamEnd {
            return out;
        }
        out.reserve(out.capacity().max(256));
    }
}

/// The text of a frame in [`ENCODING`], at most `max` bytes of it.
pub fn decompress(data: &[u8], max: usize) -> Result<Vec<u8>, WireError> {
    let mut d = Decompress::new(true);
    let mut out: Vec<u8> = Vec::with_capacity((data.len() * 4).min(max));
    let mut dictionary_set = false;
    loop {
        let consumed = d.total_in() as usize;
        if out.len() == out.capacity() {
            if out.len() >= max {
                return Err(WireError::TooLarge { max });
            }
            out.reserve((out.capacity().max(1024)).min(max - out.len()));
        }
        match d.decompress_vec(&data[consumed..], &mut out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => {
                if out.len() > max {
                    return Err(WireError::TooLarge { max });
                }
                return Ok(out);
            }
            Ok(Status::Ok | Status::BufError) => {
                if d.total_in() as usize == data.len() && out.len() < out.capacity() {
                    return Err(WireError::Corrupt("stream ends early".into()));
                }
            }
            Err(e) => match e.needs_dictionary() {
                Some(adler) if !dictionary_set => {
                    if adler != adler32(DICTIONARY) {
                        return Err(WireError::WrongDictionary { found: adler });
                    }
                    d.set_dictionary(DICTIONARY)
                        .map_err(|e| WireError::Corrupt(e.to_string()))?;
                    dictionary_set = true;
                }
                _ => return Err(WireError::Corrupt(e.to_string())),
            },
        }
    }
}

/// Adler-32 (RFC 1950), by which a zlib header names its dictionary.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn golden() -> Vec<u8> {
        include_bytes!("../tests/fixtures/evidence.json").to_vec()
    }

    #[test]
    fn a_frame_round_trips_and_shrinks() {
        let text = golden();
        let z = compress(&text);
        assert!(z.len() * 3 < text.len(), "{} of {}", z.len(), text.len());
        assert_eq!(decompress(&z, text.len()).expect("inflates"), text);
        let plain = {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::best());
            e.write_all(&text).expect("write");
            e.finish().expect("finish")
        };
        assert!(
            z.len() < plain.len(),
            "the dictionary helps: {} vs {}",
            z.len(),
            plain.len()
        );
    }

    #[test]
    fn inflation_stops_at_the_limit() {
        let bomb = compress(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 20 * 1024);
        assert_eq!(
            decompress(&bomb, 1024 * 1024),
            Err(WireError::TooLarge { max: 1024 * 1024 })
        );
        let exact = compress(&[b'x'; 4096]);
        assert_eq!(decompress(&exact, 4096).expect("fits").len(), 4096);
        assert!(decompress(&exact, 4095).is_err());
    }

    #[test]
    fn other_dictionaries_truncation_and_garbage_are_refused() {
        let text = golden();
        let mut c = Compress::new(Compression::best(), true);
        c.set_dictionary(b"another dictionary").expect("dict");
        let mut other = Vec::with_capacity(text.len() + 64);
        c.compress_vec(&text, &mut other, FlushCompress::Finish)
            .expect("compress");
        assert!(matches!(
            decompress(&other, 1 << 20),
            Err(WireError::WrongDictionary { .. })
        ));
        let z = compress(&text);
        assert!(decompress(&z[..z.len() / 2], 1 << 20).is_err());
        let mut flipped = z.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        assert!(decompress(&flipped, 1 << 20).is_err());
        assert!(decompress(b"{\"type\":\"evidence\"}", 1 << 20).is_err());
        assert!(decompress(b"", 1 << 20).is_err());
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    proptest! {
        #[test]
        fn any_bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert_eq!(decompress(&compress(&data), 4096).expect("inflates"), data);
        }

        #[test]
        fn decompressing_junk_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decompress(&data, 1 << 16);
        }
    }
}
