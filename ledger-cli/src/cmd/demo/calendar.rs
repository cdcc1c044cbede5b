//! Quarters of the demo programme and the instants its events are dated.

use anyhow::Context;
use proto::{Date, Timestamp};
use time::{Duration, Month};

/// First month of the programme: April 2025.
const START_YEAR: i32 = 2025;
const START_MONTH_INDEX: u32 = 3;

/// The `index`-th quarter of the programme (0 = April to June 2025).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Quarter {
    index: u32,
}

impl Quarter {
    /// The quarter at `index`.
    pub(super) fn new(index: u32) -> Self {
        Self { index }
    }

    /// Its position in the programme.
    pub(super) fn index(&self) -> u32 {
        self.index
    }

    /// (year, 0-based month) of its first month.
    fn start(&self) -> (i32, u32) {
        let months = START_MONTH_INDEX + 3 * self.index;
        (START_YEAR + (months / 12) as i32, months % 12)
    }

    fn calendar_first_day(&self) -> anyhow::Result<time::Date> {
        let (year, month) = self.start();
        let month = Month::try_from(u8::try_from(month + 1)?)?;
        Ok(time::Date::from_calendar_date(year, month, 1)?)
    }

    fn calendar_last_day(&self) -> anyhow::Result<time::Date> {
        let next = Quarter::new(self.index + 1).calendar_first_day()?;
        next.previous_day()
            .context("no day before the next quarter")
    }

    /// `2025 Q2`: the calendar quarter.
    pub(super) fn label(&self) -> String {
        let (year, month) = self.start();
        format!("{year} Q{}", month / 3 + 1)
    }

    /// `2025-q2`, for references and URLs.
    pub(super) fn slug(&self) -> String {
        let (year, month) = self.start();
        format!("{year}-q{}", month / 3 + 1)
    }

    /// Its first day.
    pub(super) fn first_day(&self) -> anyhow::Result<Date> {
        Ok(format_date(self.calendar_first_day()?).parse()?)
    }

    /// Its last day.
    pub(super) fn last_day(&self) -> anyhow::Result<Date> {
        Ok(format_date(self.calendar_last_day()?).parse()?)
    }

    /// `days` after its last day (before it if negative), at `hour`:00 UTC.
    pub(super) fn at(&self, days: i64, hour: i64) -> anyhow::Result<Timestamp> {
        let day = self
            .calendar_last_day()?
            .checked_add(Duration::days(days))
            .context("date out of range")?;
        let seconds = day.midnight().assume_utc().unix_timestamp() + hour * 3_600;
        Timestamp::from_unix_seconds(seconds).context("instant out of range")
    }
}

fn format_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::Quarter;

    #[test]
    fn quarters_run_from_april_2025_by_calendar_quarter() -> anyhow::Result<()> {
        let first = Quarter::new(0);
        assert_eq!(first.label(), "2025 Q2");
        assert_eq!(first.first_day()?.as_str(), "2025-04-01");
        assert_eq!(first.last_day()?.as_str(), "2025-06-30");
        let last = Quarter::new(11);
        assert_eq!(last.label(), "2028 Q1");
        assert_eq!(last.first_day()?.as_str(), "2028-01-01");
        assert_eq!(last.last_day()?.as_str(), "2028-03-31");
        assert_eq!(Quarter::new(3).slug(), "2026-q1");
        Ok(())
    }

    #[test]
    fn instants_count_days_from_the_quarter_end() -> anyhow::Result<()> {
        assert_eq!(Quarter::new(0).at(7, 9)?.as_str(), "2025-07-07T09:00:00Z");
        assert_eq!(
            Quarter::new(0).at(-100, 10)?.as_str(),
            "2025-03-22T10:00:00Z"
        );
        assert_eq!(Quarter::new(2).at(1, 0)?.as_str(), "2026-01-01T00:00:00Z");
        Ok(())
    }
}
