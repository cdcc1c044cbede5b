//! Checked arithmetic on money and counts: every result stays within `0 ..= 2^53-1` (the
//! largest integer a payload may hold) or the event is refused with
//! [`RuleViolation::Overflow`].

use proto::Int;

use crate::error::{Operation, RuleViolation};

fn overflow(operation: Operation, left: Int, right: Int) -> RuleViolation {
    RuleViolation::Overflow {
        operation,
        left: left.get(),
        right: right.get(),
    }
}

fn within(
    value: Option<u64>,
    operation: Operation,
    left: Int,
    right: Int,
) -> Result<Int, RuleViolation> {
    value
        .and_then(Int::new)
        .ok_or_else(|| overflow(operation, left, right))
}

/// `left + right`.
///
/// # Errors
/// [`RuleViolation::Overflow`] if the sum is over 2^53-1.
pub fn add(left: Int, right: Int) -> Result<Int, RuleViolation> {
    within(
        left.get().checked_add(right.get()),
        Operation::Add,
        left,
        right,
    )
}

/// `left - right`.
///
/// # Errors
/// [`RuleViolation::Overflow`] if `right` is larger than `left`.
pub fn sub(left: Int, right: Int) -> Result<Int, RuleViolation> {
    within(
        left.get().checked_sub(right.get()),
        Operation::Sub,
        left,
        right,
    )
}

/// `left * right` (a price times a quantity).
///
/// # Errors
/// [`RuleViolation::Overflow`] if the product is over 2^53-1.
pub fn mul(left: Int, right: Int) -> Result<Int, RuleViolation> {
    within(
        left.get().checked_mul(right.get()),
        Operation::Mul,
        left,
        right,
    )
}

/// The sum of `values`.
///
/// # Errors
/// [`RuleViolation::Overflow`] if a partial sum is over 2^53-1.
pub fn sum(values: impl IntoIterator<Item = Int>) -> Result<Int, RuleViolation> {
    values.into_iter().try_fold(Int::ZERO, add)
}

/// `value` as an [`Int`] (counts of list items).
///
/// # Errors
/// [`RuleViolation::Overflow`] if it is over 2^53-1 (never for format-bounded lists).
pub fn count(value: usize) -> Result<Int, RuleViolation> {
    let wide = u64::try_from(value).unwrap_or(u64::MAX);
    Int::new(wide).ok_or_else(|| overflow(Operation::Add, Int::ZERO, Int::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::ids::INT_MAX;

    fn int(v: u64) -> Int {
        Int::new(v).unwrap_or(Int::ZERO)
    }

    #[test]
    fn add_stops_at_the_json_integer_ceiling() {
        assert_eq!(add(int(INT_MAX - 1), int(1)), Ok(int(INT_MAX)));
        assert_eq!(
            add(int(INT_MAX), int(1)),
            Err(RuleViolation::Overflow {
                operation: Operation::Add,
                left: INT_MAX,
                right: 1
            })
        );
    }

    #[test]
    fn sub_refuses_negative_results() {
        assert_eq!(sub(int(5), int(5)), Ok(Int::ZERO));
        assert_eq!(
            sub(int(4), int(5)),
            Err(RuleViolation::Overflow {
                operation: Operation::Sub,
                left: 4,
                right: 5
            })
        );
    }

    #[test]
    fn mul_refuses_products_over_the_ceiling() {
        // 2^26 * 2^27 = 2^53, one over the ceiling; 2^26 * (2^27 - 1) fits.
        assert_eq!(
            mul(int(1 << 26), int((1 << 27) - 1)),
            Ok(int((1 << 53) - (1 << 26)))
        );
        assert!(mul(int(1 << 26), int(1 << 27)).is_err());
        assert!(mul(int(u64::from(u32::MAX)), int(u64::from(u32::MAX))).is_err());
    }

    #[test]
    fn sum_of_nothing_is_zero() {
        assert_eq!(sum([]), Ok(Int::ZERO));
        assert_eq!(sum([int(2), int(3), int(4)]), Ok(int(9)));
    }
}
