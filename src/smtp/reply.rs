//! SMTP replies (RFC 5321 section 4.2): a three-digit code and one or more text lines.

/// One complete (possibly multi-line) server reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The numeric code of the first line.
    pub code: u16,
    /// Every line as received, code included (`250-SIZE 100`, `250 OK`), without CRLF.
    pub lines: Vec<String>,
}

impl Reply {
    /// Whether the code is 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// Whether the code is 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }
}
