//! Just enough of the Redis protocol (RESP2 and RESP3) for the proxy to cut a byte stream into
//! whole messages and to tell a request's command: it never interprets values.

/// The length of the first complete message in `buf`, if `buf` holds one.
/// `Err` if the bytes are not RESP.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, String> {
    frame_at(buf, 0)
}

/// The end of the message that starts at `at`.
fn frame_at(buf: &[u8], at: usize) -> Result<Option<usize>, String> {
    let Some(&kind) = buf.get(at) else { return Ok(None) };
    let Some(line_end) = find_crlf(buf, at + 1) else { return Ok(None) };
    let after_line = line_end + 2;
    let header = || std::str::from_utf8(&buf[at + 1..line_end]).map_err(|_| "a header that is not UTF-8".to_string());
    let count = || header()?.parse::<i64>().map_err(|_| format!("a bad length {:?}", String::from_utf8_lossy(&buf[at + 1..line_end])));
    match kind {
        // Lines: simple string, error, integer, null, double, boolean, big number.
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Ok(Some(after_line)),
        // Blobs: bulk string, blob error, verbatim string.
        b'$' | b'!' | b'=' => {
            let n = count()?;
            if n < 0 {
                return Ok(Some(after_line));
            }
            let end = after_line + n as usize + 2;
            Ok((buf.len() >= end).then_some(end))
        }
        // Aggregates: array, set, push; map and attribute hold pairs.
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n = count()?;
            let items = if matches!(kind, b'%' | b'|') { n.max(0) * 2 } else { n.max(0) };
            let mut end = after_line;
            for _ in 0..items {
                match frame_at(buf, end)? {
                    Some(next) => end = next,
                    None => return Ok(None),
                }
            }
            if kind == b'|' {
                // An attribute precedes the value it describes: both are one message.
                return frame_at(buf, end);
            }
            Ok(Some(end))
        }
        // An inline command (`PING\r\n`), as a client may send.
        b if b.is_ascii_alphabetic() => Ok(Some(after_line)),
        other => Err(format!("an unknown RESP type byte {:?}", other as char)),
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..)?.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// The command of a request (upper case): the first word of an inline command or the first
/// bulk string of an array.
pub fn command_name(frame: &[u8]) -> Option<String> {
    let word = if frame.first() == Some(&b'*') {
        let header_end = find_crlf(frame, 1)?;
        let bulk = header_end + 2;
        if frame.get(bulk) != Some(&b'$') {
            return None;
        }
        let len_end = find_crlf(frame, bulk + 1)?;
        let len: usize = std::str::from_utf8(&frame[bulk + 1..len_end]).ok()?.parse().ok()?;
        frame.get(len_end + 2..len_end + 2 + len)?
    } else {
        let line_end = find_crlf(frame, 0)?;
        frame[..line_end].split(|b| *b == b' ').next()?
    };
    Some(String::from_utf8_lossy(word).to_ascii_uppercase())
}

/// Whether a reply is Redis's "script not loaded" error (`-NOSCRIPT ...`).
pub fn is_noscript(frame: &[u8]) -> bool {
    frame.starts_with(b"-NOSCRIPT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_messages_are_cut_and_partial_ones_wait() {
        let set = b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nNX\r\n$2\r\nPX\r\n";
        assert_eq!(frame_len(set), Ok(Some(set.len())));
        assert_eq!(frame_len(&set[..set.len() - 1]), Ok(None));
        assert_eq!(command_name(set).as_deref(), Some("SET"));
        let two = b"+OK\r\n$-1\r\n";
        assert_eq!(frame_len(two), Ok(Some(5)));
        assert_eq!(frame_len(&two[5..]), Ok(Some(5)));
        assert_eq!(frame_len(b"*2\r\n:1\r\n$3\r\nabc\r\n"), Ok(Some(17)));
        assert_eq!(frame_len(b"%1\r\n+a\r\n:1\r\n"), Ok(Some(12)));
        assert_eq!(command_name(b"ping\r\n").as_deref(), Some("PING"));
        assert!(is_noscript(b"-NOSCRIPT No matching script.\r\n"));
        assert!(frame_len(b"?x\r\n").is_err());
    }
}
