//! Short names built in const context for messages ("encoder width", "stage 2"), without
//! allocation.

/// A short const string buffer.
pub struct Name {
    len: usize,
    buf: [u8; 48],
}

impl Name {
    pub const fn as_str(&self) -> &str {
        let (used, _) = self.buf.split_at(self.len);
        match core::str::from_utf8(used) {
            Ok(text) => text,
            Err(_) => "size",
        }
    }
}

/// Concatenates two short ASCII strings in const context (`"encoder" + " width"`).
pub const fn role_what(role: &str, what: &str) -> Name {
    let mut name = Name {
        len: 0,
        buf: [0; 48],
    };
    let parts = [role.as_bytes(), what.as_bytes()];
    let mut p = 0;
    while p < parts.len() {
        let bytes = parts[p];
        let mut i = 0;
        while i < bytes.len() && name.len < name.buf.len() && bytes[i] < 0x80 {
            name.buf[name.len] = bytes[i];
            name.len += 1;
            i += 1;
        }
        p += 1;
    }
    name
}

/// `"stage " + (index + 1)`: stages are numbered from 1 in messages, as in the papers.
pub const fn stage_name(index: usize) -> Name {
    let mut name = role_what("stage ", "");
    // MAX_STAGES < 10, so one digit.
    name.buf[name.len] = b'1' + (index % 9) as u8;
    name.len += 1;
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_join_and_stages_count_from_one() {
        assert_eq!(role_what("encoder", " width").as_str(), "encoder width");
        assert_eq!(stage_name(0).as_str(), "stage 1");
        assert_eq!(stage_name(5).as_str(), "stage 6");
    }
}
