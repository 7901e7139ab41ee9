//! Log chunk compression (`spec/data-model.md` §5.4).

use std::io::{Read, Write};
use std::str::FromStr;

use crate::DbError;

/// Compression method for new log chunks (`c['logCompressionMethod']`).
///
/// The stored id (`logchunks.compressed`) is [`LogCompression::id`]; every id can always be
/// read back whatever the configured method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LogCompression {
    /// id 0, UTF-8 as-is (`raw`).
    Raw,
    /// id 1, zlib stream, level 9 (`gz`; not the gzip container).
    Gz,
    /// id 2, bzip2, level 9 (`bz2`).
    Bz2,
    /// id 3, LZ4 block with 4-byte little-endian size prefix (`lz4`).
    Lz4,
    /// id 4, Zstandard frame (`zstd`), the default.
    #[default]
    Zstd,
    /// id 5, Brotli quality 11, text mode (`br`).
    Br,
}

impl LogCompression {
    /// Every method.
    pub const ALL: [LogCompression; 6] = [
        LogCompression::Raw,
        LogCompression::Gz,
        LogCompression::Bz2,
        LogCompression::Lz4,
        LogCompression::Zstd,
        LogCompression::Br,
    ];

    /// The id stored in `logchunks.compressed`.
    pub fn id(self) -> i16 {
        match self {
            LogCompression::Raw => 0,
            LogCompression::Gz => 1,
            LogCompression::Bz2 => 2,
            LogCompression::Lz4 => 3,
            LogCompression::Zstd => 4,
            LogCompression::Br => 5,
        }
    }

    /// The method of a stored id.
    pub fn from_id(id: i16) -> Option<LogCompression> {
        LogCompression::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The config name (`raw`, `gz`, `bz2`, `lz4`, `zstd`, `br`).
    pub fn name(self) -> &'static str {
        match self {
            LogCompression::Raw => "raw",
            LogCompression::Gz => "gz",
            LogCompression::Bz2 => "bz2",
            LogCompression::Lz4 => "lz4",
            LogCompression::Zstd => "zstd",
            LogCompression::Br => "br",
        }
    }

    /// Compress `data` with this method.
    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            LogCompression::Raw => Ok(data.to_vec()),
            // one compressor per thread, reset for each chunk: a new one is a few hundred KiB
            // of tables, which the allocator maps and unmaps every time
            LogCompression::Gz => ZLIB.with(|c| {
                let mut c = c.borrow_mut();
                let c = c.get_or_insert_with(|| {
                    flate2::Compress::new(flate2::Compression::new(9), true)
                });
                c.reset();
                let mut out = Vec::with_capacity(data.len() / 4 + 64);
                loop {
                    let done = usize::try_from(c.total_in()).unwrap_or(data.len());
                    let status = c
                        .compress_vec(&data[done..], &mut out, flate2::FlushCompress::Finish)
                        .map_err(std::io::Error::other)?;
                    if status == flate2::Status::StreamEnd {
                        return Ok(out);
                    }
                    out.reserve(out.capacity().max(64));
                }
            }),
            LogCompression::Bz2 => {
                let mut e = bzip2::write::BzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    bzip2::Compression::best(),
                );
                e.write_all(data)?;
                e.finish()
            }
            LogCompression::Lz4 => Ok(lz4_flex::block::compress_prepend_size(data)),
            LogCompression::Zstd => ZSTD.with(|c| {
                let mut c = c.borrow_mut();
                if c.is_none() {
                    *c = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
                }
                match c.as_mut() {
                    Some(c) => c.compress(data),
                    None => Err(std::io::Error::other("zstd compressor unavailable")),
                }
            }),
            LogCompression::Br => {
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 11,
                    mode: brotli::enc::backward_references::BrotliEncoderMode::BROTLI_MODE_TEXT,
                    ..Default::default()
                };
                let mut out = Vec::with_capacity(data.len() / 4);
                brotli::BrotliCompress(&mut &data[..], &mut out, &params)?;
                Ok(out)
            }
        }
    }
}

/// zstd level used for new chunks. Python uses 9 with a streaming compressor; the level is not
/// stored, any level decodes. 3 keeps appends fast.
const ZSTD_LEVEL: i32 = 3;

thread_local! {
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static ZLIB: std::cell::RefCell<Option<flate2::Compress>> =
        const { std::cell::RefCell::new(None) };
}

impl FromStr for LogCompression {
    type Err = DbError;

    fn from_str(s: &str) -> Result<Self, DbError> {
        LogCompression::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| DbError::InvalidSetting {
                what: "logCompressionMethod",
                value: s.to_owned(),
                hint: "expected one of raw, gz, bz2, lz4, zstd, br".to_owned(),
            })
    }
}

impl std::fmt::Display for LogCompression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Decompress a stored chunk with compression id `id` (any of 0..=5).
pub(crate) fn decompress(logid: i64, id: i16, data: &[u8]) -> Result<Vec<u8>, DbError> {
    let err = |source| DbError::Compression {
        logid,
        action: "decompress",
        source,
    };
    let method = LogCompression::from_id(id).ok_or(DbError::UnknownCompression { logid, id })?;
    let mut out = Vec::with_capacity(data.len() * 4);
    match method {
        LogCompression::Raw => return Ok(data.to_vec()),
        LogCompression::Gz => {
            flate2::read::ZlibDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(err)?;
        }
        LogCompression::Bz2 => {
            bzip2::read::BzDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(err)?;
        }
        LogCompression::Lz4 => {
            return lz4_flex::block::decompress_size_prepended(data)
                .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)));
        }
        LogCompression::Zstd => {
            // Streaming decoder: Python's frames carry no content size.
            zstd::stream::read::Decoder::new(data)
                .and_then(|mut d| d.read_to_end(&mut out))
                .map_err(err)?;
        }
        LogCompression::Br => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .map_err(err)?;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_ids() {
        let text: Vec<u8> = (0..2000)
            .map(|i| format!("o{i:08} some log text here\n"))
            .collect::<String>()
            .into_bytes();
        for c in LogCompression::ALL {
            let z = c.compress(&text).expect("compress");
            if c != LogCompression::Raw {
                assert!(z.len() < text.len(), "{c} did not compress");
            }
            assert_eq!(decompress(1, c.id(), &z).expect("decompress"), text, "{c}");
            assert_eq!(c.name().parse::<LogCompression>().expect("parse"), c);
        }
    }

    /// The per-thread zlib compressor is reset between chunks, and output larger than its
    /// first guess (incompressible input) is grown until the stream ends.
    #[test]
    fn gz_compressor_reuse_and_incompressible_input() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for data in [&b"first chunk\nsecond line"[..], &noise, b"again", b""] {
            let z = LogCompression::Gz.compress(data).expect("gz");
            assert_eq!(decompress(1, 1, &z).expect("inflate"), data);
        }
    }

    #[test]
    fn formats_match_python() {
        let z = LogCompression::Gz
            .compress(b"hello hello hello")
            .expect("gz");
        assert_eq!(&z[..2], &[0x78, 0xDA]);
        let z = LogCompression::Lz4
            .compress(b"hello hello hello")
            .expect("lz4");
        assert_eq!(&z[..4], &17u32.to_le_bytes());
        // A streaming zstd frame without content size (as python-zstandard writes) decodes.
        let mut e = zstd::stream::write::Encoder::new(Vec::new(), 9).expect("enc");
        e.write_all(b"abc\ndef").expect("write");
        let frame = e.finish().expect("finish");
        assert_eq!(decompress(1, 4, &frame).expect("zstd"), b"abc\ndef");
    }

    #[test]
    fn unknown_id_is_typed_error() {
        assert!(matches!(
            decompress(7, 9, b"x"),
            Err(DbError::UnknownCompression { logid: 7, id: 9 })
        ));
        assert!("gzip".parse::<LogCompression>().is_err());
    }
}
