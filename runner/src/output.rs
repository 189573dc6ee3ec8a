//! Printing to standard output when it may be a pipe that closes early (`jauge show … | head`):
//! a reader that has seen enough is no error, and no reason to panic.

use std::io::{ErrorKind, Write};

/// Writes `text` to standard output; a closed pipe ends the output quietly.
///
/// # Errors
/// Any other failure to write.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}
