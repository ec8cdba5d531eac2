//! Value validators for the known injectors' keys: each reproduces how an
//! injector parses a value (Istio: `pkg/kube/inject/validate.go`; the others:
//! the code each key's `source:` in `vocabulary.yaml` links) and returns the
//! problem as text that reads after "is not accepted by <injector>: ".
//!
//! Which validator a key gets is data: the key's `type` in `vocabulary.yaml`,
//! refined by its `format`.

use std::net::IpAddr;

use serde::Deserialize;

use super::{KeySpec, ValueType};

/// A refinement of a key's `type`: the injector's own parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Go `strconv.ParseBool` (the default for `bool`).
    GoBool,
    /// HashiCorp `parseutil.ParseBool` (Vault): `mapstructure.WeakDecode`,
    /// which is `strconv.ParseBool` plus the empty string as false.
    ParseutilBool,
    /// Dapr's fast path: `true` in any case turns injection on; we accept
    /// `true`/`false` in any case.
    DaprBool,
    /// A port list, or `*` for all (Istio `includeInboundPorts`).
    PortsOrStar,
    /// A CIDR list, or `*` for all (Istio `includeOutboundIPRanges`).
    CidrsOrStar,
    /// Go `strconv.ParseUint(v, 10, 32)` (Istio readiness probe settings).
    Uint32,
    /// Go `strconv.ParseInt(v, 10, 32)` (Linkerd's proxy port settings).
    Int32,
    /// An enum compared case-insensitively (OSM).
    CaseInsensitive,
    /// Istio's `sidecar.istio.io/inject`, parsed by version (`injectRequired`
    /// in `pkg/kube/inject/inject.go`); checked
    /// by the rule itself.
    IstioInject,
}

/// `value` checked the way the injector parses `spec`'s key.
pub fn check(spec: &KeySpec, value: &str) -> Result<(), String> {
    let format = spec.format;
    match spec.value_type {
        ValueType::Bool => match format {
            Some(Format::ParseutilBool) => parseutil_bool(value),
            Some(Format::DaprBool) => dapr_bool(value),
            _ => go_bool(value),
        },
        ValueType::Port => match format {
            Some(Format::Int32) => int32(value),
            _ => port(value),
        },
        ValueType::Ports => ports(value, format == Some(Format::PortsOrStar)),
        ValueType::Cidrs => cidrs(value, format == Some(Format::CidrsOrStar)),
        ValueType::Quantity => quantity(value),
        ValueType::Duration => duration(value),
        ValueType::Int => match format {
            Some(Format::Uint32) => uint32(value),
            Some(Format::Int32) => int32(value),
            _ => int(value),
        },
        ValueType::Enum => {
            if format == Some(Format::CaseInsensitive) {
                enum_case_insensitive(value, &spec.values)
            } else {
                enum_exact(value, &spec.values)
            }
        }
        ValueType::Json => json(value),
        ValueType::String => Ok(()),
    }
}

const GO_BOOLS: &[&str] = &[
    "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False",
];

/// Go `strconv.ParseBool`.
pub fn go_bool(value: &str) -> Result<(), String> {
    if GO_BOOLS.contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "not a Go bool (strconv.ParseBool accepts only {})",
            GO_BOOLS.join(", ")
        ))
    }
}

/// HashiCorp `parseutil.ParseBool`: `mapstructure.WeakDecode` into a bool,
/// which runs `strconv.ParseBool` and reads the empty string as false.
pub fn parseutil_bool(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    go_bool(value)
}

/// Dapr: `true` (any case) is on; we also accept `false` (any case).
pub fn dapr_bool(value: &str) -> Result<(), String> {
    if value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false") {
        Ok(())
    } else {
        Err("only `true` (in any case) turns injection on".to_owned())
    }
}

/// Go `strconv.ParseUint(v, 10, bits)`: decimal digits only, no sign.
fn go_uint(value: &str, bits: u32) -> Result<u64, String> {
    if value.is_empty() {
        return Err("empty, not a number".to_owned());
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{value}` is not an unsigned decimal number"));
    }
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    match value.parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(format!("`{value}` is out of range (at most {max})")),
    }
}

/// Go `strconv.ParseInt(v, 10, bits)`: optional sign, decimal digits.
fn go_int(value: &str, bits: u32) -> Result<i64, String> {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{value}` is not a decimal integer"));
    }
    let (min, max) = if bits == 64 {
        (i64::MIN, i64::MAX)
    } else {
        (-(1i64 << (bits - 1)), (1i64 << (bits - 1)) - 1)
    };
    match value.parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("`{value}` is out of range ({min} to {max})")),
    }
}

/// A port as Istio parses it: trimmed, then `ParseUint(v, 10, 16)`.
pub fn port(value: &str) -> Result<(), String> {
    go_uint(value.trim(), 16)
        .map(drop)
        .map_err(|e| format!("not a port: {e}"))
}

/// A comma list of ports as Istio parses it: the whole value trimmed (empty
/// is no ports), each item a [`port`]; with `star`, `*` alone means all.
pub fn ports(value: &str, star: bool) -> Result<(), String> {
    if star && value == "*" {
        return Ok(());
    }
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(());
    }
    for item in trimmed.split(',') {
        if let Err(e) = go_uint(item.trim(), 16) {
            let hint = if item.trim() == "*" {
                " (`*` is accepted only alone, and only by the include keys)"
            } else {
                ""
            };
            return Err(format!("item `{item}` is not a port: {e}{hint}"));
        }
    }
    Ok(())
}

/// A comma list of CIDRs as Istio parses it: empty is none, each item Go
/// `netip.ParsePrefix` (untrimmed); with `star`, `*` alone means all.
pub fn cidrs(value: &str, star: bool) -> Result<(), String> {
    if star && value == "*" {
        return Ok(());
    }
    if value.is_empty() {
        return Ok(());
    }
    for item in value.split(',') {
        if let Err(e) = prefix(item) {
            let hint = if item == "*" {
                " (`*` is accepted only alone, and only by includeOutboundIPRanges)"
            } else {
                ""
            };
            return Err(format!("item `{item}` is not a CIDR: {e}{hint}"));
        }
    }
    Ok(())
}

/// Go `netip.ParsePrefix`: `address/bits`, no zone, bits in decimal without
/// leading zeros and at most the address length. The address is not masked
/// (`10.0.0.1/8` is accepted).
pub fn prefix(value: &str) -> Result<(), String> {
    let Some((address, bits)) = value.rsplit_once('/') else {
        return match value.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => Err(format!(
                "an address without a prefix length (write `{value}/32`)"
            )),
            Ok(IpAddr::V6(_)) => Err(format!(
                "an address without a prefix length (write `{value}/128`)"
            )),
            Err(_) => Err("no `/` and not an address".to_owned()),
        };
    };
    if address != address.trim() {
        return Err("whitespace around the address".to_owned());
    }
    let ip: IpAddr = address
        .parse()
        .map_err(|_| format!("`{address}` is not an IP address"))?;
    let bad_bits = || format!("bad prefix length `{bits}`");
    if bits.is_empty()
        || !bits.bytes().all(|b| b.is_ascii_digit())
        || (bits.len() > 1 && bits.starts_with('0'))
    {
        return Err(bad_bits());
    }
    let n: u32 = bits.parse().map_err(|_| bad_bits())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if n > max {
        return Err(format!("prefix length {n} is longer than {max}"));
    }
    Ok(())
}

/// A Kubernetes resource quantity (`resource.ParseQuantity`): an optionally
/// signed decimal number, then a binary suffix (Ki Mi Gi Ti Pi Ei), a decimal
/// one (n u m k M G T P E) or an exponent (`e3`, `E-2`). Istio also rejects
/// control characters, which this never accepts.
pub fn quantity(value: &str) -> Result<(), String> {
    let problem = |why: &str| {
        Err(format!(
            "not a Kubernetes quantity ({why}; e.g. `100m`, `0.5`, `128Mi`, `1G`)"
        ))
    };
    if value.is_empty() {
        return problem("empty");
    }
    if value.chars().any(char::is_control) {
        return problem("it contains control characters");
    }
    let rest = value.strip_prefix(['+', '-']).unwrap_or(value);
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut rest_after = &rest[int_len..];
    let mut frac_len = 0;
    if let Some(after_dot) = rest_after.strip_prefix('.') {
        frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
        rest_after = &after_dot[frac_len..];
    }
    if int_len + frac_len == 0 {
        return problem("it does not start with a number");
    }
    let suffix = rest_after;
    let valid_suffix = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|e| e.strip_prefix(['+', '-']).unwrap_or(e))
        .is_some_and(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()));
    if valid_suffix {
        Ok(())
    } else {
        problem(&format!("unknown suffix `{suffix}`"))
    }
}

/// Go `time.ParseDuration`: `0`, or signed numbers with units (ns us µs ms
/// s m h), e.g. `300ms`, `1h2m`, `1.5s`.
pub fn duration(value: &str) -> Result<(), String> {
    let problem = |why: String| {
        Err(format!(
            "not a Go duration ({why}; e.g. `300ms`, `10s`, `1h2m`)"
        ))
    };
    let rest = value.strip_prefix(['+', '-']).unwrap_or(value);
    if rest == "0" {
        return Ok(());
    }
    if rest.is_empty() {
        return problem("empty".to_owned());
    }
    let mut rest = rest;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut after = &rest[int_len..];
        let mut frac_len = 0;
        if let Some(f) = after.strip_prefix('.') {
            frac_len = f.bytes().take_while(u8::is_ascii_digit).count();
            after = &f[frac_len..];
        }
        if int_len + frac_len == 0 {
            return problem(format!("expected a number at `{rest}`"));
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(after.len(), |(i, _)| i);
        let unit = &after[..unit_len];
        if unit.is_empty() {
            return problem("a number without a unit".to_owned());
        }
        if !matches!(unit, "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return problem(format!("unknown unit `{unit}`"));
        }
        rest = &after[unit_len..];
    }
    Ok(())
}

/// Go `strconv.ParseInt(v, 10, 64)`.
pub fn int(value: &str) -> Result<(), String> {
    go_int(value, 64)
        .map(drop)
        .map_err(|e| format!("not an integer: {e}"))
}

/// Go `strconv.ParseInt(v, 10, 32)`.
pub fn int32(value: &str) -> Result<(), String> {
    go_int(value, 32)
        .map(drop)
        .map_err(|e| format!("not a 32-bit integer: {e}"))
}

/// Go `strconv.ParseUint(v, 10, 32)`.
pub fn uint32(value: &str) -> Result<(), String> {
    go_uint(value, 32)
        .map(drop)
        .map_err(|e| format!("not an unsigned 32-bit integer: {e}"))
}

fn listed(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One of `values`, exactly (case-sensitive).
pub fn enum_exact(value: &str, values: &[String]) -> Result<(), String> {
    if values.iter().any(|v| v == value) {
        return Ok(());
    }
    let case = if values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
        " (the comparison is case-sensitive)"
    } else {
        ""
    };
    Err(format!("accepted values are {}{case}", listed(values)))
}

/// One of `values`, in any case.
pub fn enum_case_insensitive(value: &str, values: &[String]) -> Result<(), String> {
    if values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
        Ok(())
    } else {
        Err(format!(
            "accepted values are {} (in any case)",
            listed(values)
        ))
    }
}

/// JSON.
pub fn json(value: &str) -> Result<(), String> {
    serde_json::from_str::<serde_json::Value>(value)
        .map(drop)
        .map_err(|e| format!("not JSON: {e}"))
}

/// How Istio reads `sidecar.istio.io/inject` (`injectRequired` in
/// `pkg/kube/inject/inject.go`): `Some(true)`/`Some(false)`
/// for an explicit answer, `None` for "use the default".
pub fn istio_inject(value: &str, version: (u64, u64)) -> Option<bool> {
    if version >= (1, 27) {
        match value {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    } else if value.is_empty() {
        None
    } else {
        Some(istio_truthy(value))
    }
}

/// The values Istio 1.26 and earlier read as true (lowercased first).
pub fn istio_truthy(value: &str) -> bool {
    matches!(
        value.to_ascii_lowercase().as_str(),
        "y" | "yes" | "true" | "on"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_bools() {
        for ok in GO_BOOLS {
            assert!(go_bool(ok).is_ok(), "{ok}");
        }
        for bad in [
            "yes",
            "no",
            "on",
            "enabled",
            "tRUE",
            "",
            " true",
            "yes please",
        ] {
            assert!(go_bool(bad).is_err(), "{bad}");
        }
        assert!(parseutil_bool("").is_ok());
        assert!(parseutil_bool("yes").is_err());
        assert!(dapr_bool("TRUE").is_ok());
        assert!(dapr_bool("yes").is_err());
    }

    #[test]
    fn ports_parse_like_istio() {
        assert!(port("15020").is_ok());
        assert!(port(" 0 ").is_ok());
        assert!(port("65535").is_ok());
        assert!(port("70000").unwrap_err().contains("out of range"));
        assert!(port("-1").is_err());
        assert!(port("+80").is_err());
        assert!(port("").is_err());
        assert!(port("http").is_err());
        assert!(ports("80, 443 ,8080", false).is_ok());
        assert!(ports("", false).is_ok());
        assert!(ports("  ", false).is_ok());
        assert!(ports("*", true).is_ok());
        assert!(ports("*", false).unwrap_err().contains("only alone"));
        assert!(ports("80,*", true).is_err());
        assert!(ports("bad", false).is_err());
        assert!(ports("80,", false).is_err());
        assert!(ports("8000-9000", false).is_err());
    }

    #[test]
    fn cidrs_parse_like_netip_parse_prefix() {
        assert!(cidrs("10.0.0.0/8,172.16.0.0/12", false).is_ok());
        assert!(cidrs("", false).is_ok());
        assert!(cidrs("*", true).is_ok());
        assert!(cidrs("*", false).is_err());
        assert!(cidrs("::1/128,fd00::/8", false).is_ok());
        assert!(cidrs("10.0.0.1/8", false).is_ok(), "not masked");
        assert!(cidrs("0.0.0.0/0", false).is_ok());
        let bare = cidrs("10.0.0.1", true).unwrap_err();
        assert!(bare.contains("without a prefix length"), "{bare}");
        assert!(bare.contains("10.0.0.1/32"), "{bare}");
        assert!(cidrs("10.0.0.0/8, 192.168.0.0/16", false).is_err());
        assert!(cidrs("10.0.0.0/33", false).is_err());
        assert!(cidrs("10.0.0.0/08", false).is_err());
        assert!(cidrs("10.0.0.0/", false).is_err());
        assert!(cidrs("010.0.0.0/8", false).is_err());
        assert!(cidrs("fe80::1%eth0/64", false).is_err());
        assert!(cidrs("10.0.0.0/8,", false).is_err());
        assert!(cidrs("bad", true).is_err());
    }

    #[test]
    fn quantities() {
        for ok in [
            "100m", "0.5", "2", "128Mi", "1Gi", "1G", "1e3", "1E-2", ".5", "5.", "+1", "-1",
            "500u", "10n", "1k", "1Ei",
        ] {
            assert!(quantity(ok).is_ok(), "{ok}");
        }
        for bad in [
            "lots", "", "1 Gi", "1gi", "1mi", "100mb", "1K", "Mi", "1e", "1\n", "one", "1.2.3",
        ] {
            assert!(quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        for ok in [
            "0",
            "300ms",
            "1h2m",
            "1.5s",
            "10us",
            "10µs",
            "-1s",
            "2h45m30.5s",
        ] {
            assert!(duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "10", "1d", "s", "1 s", "ten seconds", "1h 2m", "."] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers() {
        assert!(uint32("4294967295").is_ok());
        assert!(uint32("4294967296").is_err());
        assert!(uint32("-1").is_err());
        assert!(uint32("").is_err());
        assert!(int32("-4191").is_ok());
        assert!(int32("4191x").is_err());
        assert!(int32("2147483648").is_err());
        assert!(int("9").is_ok());
    }

    #[test]
    fn enums_and_json() {
        let values = vec![
            "REDIRECT".to_owned(),
            "TPROXY".to_owned(),
            "NONE".to_owned(),
        ];
        assert!(enum_exact("TPROXY", &values).is_ok());
        let e = enum_exact("redirect", &values).unwrap_err();
        assert!(e.contains("case-sensitive"), "{e}");
        assert!(enum_case_insensitive("redirect", &values).is_ok());
        assert!(json("[1, 2]").is_ok());
        assert!(json("{").is_err());
    }

    #[test]
    fn vocabulary_formats_fit_their_types() {
        for injector in &super::super::vocabulary().injectors {
            for spec in injector.keys() {
                let Some(format) = spec.format else { continue };
                let fits = match format {
                    Format::GoBool | Format::ParseutilBool | Format::DaprBool => {
                        spec.value_type == ValueType::Bool
                    }
                    Format::PortsOrStar => spec.value_type == ValueType::Ports,
                    Format::CidrsOrStar => spec.value_type == ValueType::Cidrs,
                    Format::Uint32 => spec.value_type == ValueType::Int,
                    Format::Int32 => matches!(spec.value_type, ValueType::Int | ValueType::Port),
                    Format::CaseInsensitive => spec.value_type == ValueType::Enum,
                    Format::IstioInject => spec.key == "sidecar.istio.io/inject",
                };
                assert!(fits, "`{}`: format {format:?} with its type", spec.key);
                assert!(
                    spec.invalid.is_some() || spec.invalid_note.is_none(),
                    "`{}`: invalid_note without invalid",
                    spec.key
                );
            }
        }
    }

    #[test]
    fn istio_inject_by_version() {
        assert_eq!(istio_inject("yes", (1, 26)), Some(true));
        assert_eq!(istio_inject("True", (1, 26)), Some(true));
        assert_eq!(istio_inject("enabled", (1, 26)), Some(false));
        assert_eq!(istio_inject("", (1, 26)), None);
        assert_eq!(istio_inject("yes", (1, 27)), None);
        assert_eq!(istio_inject("enabled", (1, 28)), None);
        assert_eq!(istio_inject("true", (1, 28)), Some(true));
        assert_eq!(istio_inject("false", (1, 20)), Some(false));
    }
}
