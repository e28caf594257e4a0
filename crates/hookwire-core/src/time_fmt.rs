//! Timestamps on the wire: RFC 3339 in UTC with milliseconds; stored as Unix milliseconds.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub type Millis = i64;

pub fn to_millis(at: OffsetDateTime) -> Millis {
    (at.unix_timestamp_nanos() / 1_000_000) as Millis
}

/// The `updatedAt` of a write made at `now` to what was last written at `previous`: `now`, or one
/// past `previous` when the clock has not moved past it (two writes in one millisecond, a node
/// whose clock is behind). Each write gets a new stamp, so what compares stamps to notice a
/// change (a transformation's compiled-code cache, a FIFO turn's settings check) sees every one.
pub fn restamp(previous: Option<Millis>, now: Millis) -> Millis {
    previous.map_or(now, |previous| now.max(previous + 1))
}

pub fn from_millis(millis: Millis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(millis as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2026-11-23T14:00:00.123Z`
pub fn format_millis(millis: Millis) -> String {
    let at = from_millis(millis);
    let base = at.replace_millisecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_default();
    // Rfc3339 prints `...:SSZ` when the sub-second part is zero; add fixed milliseconds.
    let seconds_end = base.len() - 1;
    format!("{}.{:03}Z", &base[..seconds_end], at.millisecond())
}

pub fn parse(text: &str) -> Result<Millis, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(to_millis)
        .map_err(|error| format!("not an RFC 3339 timestamp ({error}): {text:?}"))
}

/// A time as people type it, relative to `now`: RFC 3339; a browser's `datetime-local`
/// (`2026-01-31T12:00`, taken as UTC); `now`, `today` or `yesterday` (UTC midnight); or a
/// duration ago (`90s`, `30m`, `12h`, `7d`, `2w`). The one rule for the CLI and the dashboard.
pub fn parse_human(text: &str, now: Millis) -> Result<Millis, String> {
    const DAY: Millis = 86_400_000;
    let text = text.trim();
    let midnight = now.div_euclid(DAY) * DAY;
    match text {
        "now" => return Ok(now),
        "today" => return Ok(midnight),
        "yesterday" => return Ok(midnight - DAY),
        _ => {}
    }
    let units = [('s', 1_000), ('m', 60_000), ('h', 3_600_000), ('d', DAY), ('w', 7 * DAY)];
    for (unit, millis) in units {
        if let Some(count) = text.strip_suffix(unit).and_then(|n| n.parse::<i64>().ok()).filter(|n| *n >= 0) {
            return Ok(now - count.saturating_mul(millis));
        }
    }
    parse(text)
        .or_else(|_| parse(&format!("{text}:00Z")))
        .or_else(|_| parse(&format!("{text}Z")))
        .map_err(|_| {
            format!(
                "{text:?} is not a time: use 2026-01-31T12:00:00Z, now, today, yesterday, or a duration ago like 30m, 12h, 7d"
            )
        })
}

/// Serde adapter for `Millis` fields that are RFC 3339 strings on the wire.
pub mod rfc3339 {
    use super::*;

    pub fn serialize<S: serde::Serializer>(millis: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_millis(*millis))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let text = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for `Option<Millis>`.
pub mod rfc3339_option {
    use super::*;

    pub fn serialize<S: serde::Serializer>(millis: &Option<Millis>, s: S) -> Result<S::Ok, S::Error> {
        match millis {
            Some(m) => s.serialize_str(&format_millis(*m)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Millis>, D::Error> {
        let text = <Option<std::borrow::Cow<'de, str>> as serde::Deserialize>::deserialize(d)?;
        text.map(|t| parse(&t).map_err(serde::de::Error::custom)).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_write_gets_a_new_stamp_even_within_one_millisecond() {
        assert_eq!(restamp(None, 1_000), 1_000);
        assert_eq!(restamp(Some(900), 1_000), 1_000, "the clock moved on");
        assert_eq!(restamp(Some(1_000), 1_000), 1_001, "the same millisecond");
        assert_eq!(restamp(Some(1_500), 1_000), 1_501, "a clock behind the last write");
    }

    #[test]
    fn formats_and_parses_with_milliseconds() {
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_millis(1_614_265_330_123), "2021-02-25T15:02:10.123Z");
        assert_eq!(parse("2021-02-25T15:02:10.123Z").unwrap(), 1_614_265_330_123);
        assert_eq!(parse("2021-02-25T16:02:10+01:00").unwrap(), 1_614_265_330_000);
        assert!(parse("yesterday").is_err());
    }

    #[test]
    fn people_may_type_relative_times() {
        let now = parse("2026-12-03T09:30:00Z").unwrap();
        let at = |text| format_millis(parse_human(text, now).unwrap());
        assert_eq!(at("now"), "2026-12-03T09:30:00.000Z");
        assert_eq!(at("today"), "2026-12-03T00:00:00.000Z");
        assert_eq!(at("yesterday"), "2026-12-02T00:00:00.000Z");
        assert_eq!(at("12h"), "2026-12-02T21:30:00.000Z");
        assert_eq!(at("90s"), "2026-12-03T09:28:30.000Z");
        assert_eq!(at("2w"), "2026-11-19T09:30:00.000Z");
        assert_eq!(at(" 2026-01-31T12:00 "), "2026-01-31T12:00:00.000Z");
        assert_eq!(at("2026-01-31T12:00:00+01:00"), "2026-01-31T11:00:00.000Z");
        let refused = parse_human("last tuesday", now).unwrap_err();
        assert!(refused.contains("yesterday") && refused.contains("12h"), "{refused}");
        assert!(parse_human("-5m", now).is_err());
    }
}
