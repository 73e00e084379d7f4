//! Durations typed on the command line, in seconds: the one parser of every
//! such flag (`--timeout`, `--lease`, `--heartbeat-timeout`). A number a
//! person typed is checked before it becomes a `Duration`, so no value can
//! panic a conversion or overflow a deadline.

use std::time::Duration;

/// The longest duration a flag takes: a year (beyond that, a typo).
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// A number of seconds from 0 to [`MAX`] (fractions allowed).
pub fn parse(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(seconds.is_finite() && (0.0..=MAX.as_secs_f64()).contains(&seconds)) {
        return Err(format!(
            "`{text}` is not a number of seconds from 0 to {} (a year)",
            MAX.as_secs()
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// [`parse`], above 0.
pub fn parse_positive(text: &str) -> Result<Duration, String> {
    match parse(text)? {
        d if d.is_zero() => Err(format!("`{text}` must be more than 0 seconds")),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_typed_number_is_a_duration_or_a_clear_error() {
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 0 "), Ok(Duration::ZERO));
        assert_eq!(parse("31536000"), Ok(MAX));
        for bad in ["-1", "x", "", "NaN", "inf", "1e20", "1e309", "31536001"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert!(parse_positive("0").is_err());
        assert_eq!(parse_positive("0.25"), Ok(Duration::from_millis(250)));
    }
}
