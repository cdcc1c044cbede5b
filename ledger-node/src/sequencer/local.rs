//! [`Local`]: the node is its own ordering authority.

use std::ops::Range;

/// The local sequencer: global indexes continue the local log, gap-free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Local {
    next_index: u64,
}

/// The sequencer cannot hand out the indexes asked for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SequenceError {
    /// The log would pass `u64::MAX` events.
    #[error("the log is full: {next_index} events and {count} more do not fit in a u64")]
    LogFull {
        /// The next free index.
        next_index: u64,
        /// How many were asked for.
        count: u64,
    },
}

impl SequenceError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::LogFull { .. } => "log-full",
        }
    }
}

impl Local {
    /// A sequencer for a log that holds `size` events.
    pub fn new(size: u64) -> Self {
        Self { next_index: size }
    }

    /// The index the next event gets.
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Hands out the next `count` indexes, in order.
    ///
    /// # Errors
    /// [`SequenceError::LogFull`] past `u64::MAX`; nothing is handed out then.
    pub fn assign(&mut self, count: u64) -> Result<Range<u64>, SequenceError> {
        let start = self.next_index;
        let end = start.checked_add(count).ok_or(SequenceError::LogFull {
            next_index: start,
            count,
        })?;
        self.next_index = end;
        Ok(start..end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_continue_the_log_without_gaps() {
        let mut local = Local::new(5);
        assert_eq!(local.assign(3), Ok(5..8));
        assert_eq!(local.assign(0), Ok(8..8));
        assert_eq!(local.assign(1), Ok(8..9));
        assert_eq!(local.next_index(), 9);
    }

    #[test]
    fn refuses_to_overflow() {
        let mut local = Local::new(u64::MAX - 1);
        assert!(local.assign(2).is_err());
        assert_eq!(local.next_index(), u64::MAX - 1);
    }
}
