//! Reading a whole file with a size limit: what a user names (`--config`,
//! `--kubeconfig`, a kubeconfig's token, certificate and key files,
//! `serve`'s certificate and key) may be `/dev/zero`, a pipe or a huge
//! file, which `std::fs::read` would read until memory runs out. Every file
//! kubectl-inject reads whole goes through [`read`].

use std::io::Read;
use std::path::Path;

/// The most read of a file that configures a run (a configuration, a
/// kubeconfig, a certificate, a key, a token): far more than any of them
/// holds (a kubeconfig of a thousand clusters with their CAs inline is
/// about 5 MiB).
pub const LIMIT: u64 = 8 * 1024 * 1024;

/// Why a file could not be read whole.
#[derive(Debug)]
pub enum ReadError {
    /// It holds more than `limit` bytes: `size` as far as it was read or
    /// as its metadata says (a device or a pipe has no size to ask for).
    TooLarge {
        size: u64,
        limit: u64,
    },
    Io(std::io::Error),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::TooLarge { limit, .. } => write!(
                f,
                "it holds more than {}, the most kubectl-inject reads of such a file",
                size(*limit)
            ),
            ReadError::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ReadError {}

/// `8 MiB`, `512 KiB`, `100 bytes`.
pub fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    match bytes {
        b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
        b if b >= MIB => format!("{:.1} MiB", b as f64 / MIB as f64),
        b if b >= KIB && b % KIB == 0 => format!("{} KiB", b / KIB),
        b => format!("{b} bytes"),
    }
}

/// The bytes of `path`, if it holds at most `limit` of them. Never reads
/// more than `limit + 1` bytes, whatever the file is.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let declared = file.metadata().map(|m| m.len()).unwrap_or(0);
    if declared > limit {
        return Err(ReadError::TooLarge {
            size: declared,
            limit,
        });
    }
    let mut bytes = Vec::with_capacity(declared as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, limit)?).map_err(|e| {
        ReadError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("it is not UTF-8 text ({})", e.utf8_error()),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_file_is_read_up_to_the_limit() {
        #[cfg(unix)]
        {
            let error = read(Path::new("/dev/zero"), 4096).unwrap_err();
            assert!(
                matches!(
                    error,
                    ReadError::TooLarge {
                        size: 4097,
                        limit: 4096
                    }
                ),
                "{error:?}"
            );
            assert!(error.to_string().contains("4 KiB"), "{error}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'a'; 100]).unwrap();
        assert_eq!(read(&path, 100).unwrap().len(), 100);
        assert!(matches!(
            read(&path, 99),
            Err(ReadError::TooLarge {
                size: 100,
                limit: 99
            })
        ));
        assert!(matches!(
            read(&dir.path().join("missing"), 99),
            Err(ReadError::Io(_))
        ));
        assert_eq!(size(LIMIT), "8 MiB");
        assert_eq!(size(1536), "1536 bytes");
        assert_eq!(size(3 * 1024 * 1024 / 2), "1.5 MiB");
    }
}
