//! The two text formats a scraper may ask for.
//!
//! `prometheus-client` writes OpenMetrics 1.0, which Prometheus itself asks for (its
//! `Accept` header names `application/openmetrics-text`). Older tools, `curl` and
//! `promtool check metrics` read the classic text format 0.0.4, where a counter's
//! `# HELP`/`# TYPE` lines name the sample with its `_total` suffix, there is no `info`
//! type, and no `# EOF`. [`classic`] rewrites the one into the other, line by line;
//! the samples themselves are the same in both.

pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const CLASSIC: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether the scraper's `Accept` header asks for OpenMetrics.
pub fn wants_openmetrics(accept: Option<&str>) -> bool {
    accept.is_some_and(|accept| {
        accept.split(',').any(|choice| {
            let mut parts = choice.split(';').map(str::trim);
            let kind = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            kind.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        })
    })
}

/// OpenMetrics text as the classic text format.
pub fn classic(openmetrics: &str) -> String {
    let mut out = String::with_capacity(openmetrics.len() + 256);
    // The counters and infos met so far: their HELP line comes before their TYPE line.
    let mut renamed: Vec<(String, &str)> = Vec::new();
    let lines: Vec<&str> = openmetrics.lines().collect();
    for line in &lines {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            match kind {
                "counter" => renamed.push((name.to_string(), "_total")),
                "info" => renamed.push((name.to_string(), "_info")),
                _ => {}
            }
        }
    }
    let suffix_of = |name: &str| {
        renamed
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, suffix)| *suffix)
    };
    for line in lines {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ")
            && let Some((name, help)) = rest.split_once(' ')
            && let Some(suffix) = suffix_of(name)
        {
            out.push_str(&format!("# HELP {name}{suffix} {help}\n"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
            && let Some(suffix) = suffix_of(name)
        {
            let kind = if kind == "info" { "gauge" } else { kind };
            out.push_str(&format!("# TYPE {name}{suffix} {kind}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_gets_openmetrics_and_curl_the_classic_format() {
        // Prometheus 2.42's scrape header.
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert!(wants_openmetrics(Some(prometheus)));
        assert!(!wants_openmetrics(Some("*/*")));
        assert!(!wants_openmetrics(Some("text/plain")));
        assert!(!wants_openmetrics(None));
        assert!(!wants_openmetrics(Some(
            "application/openmetrics-text; q=0"
        )));
    }

    #[test]
    fn counters_and_infos_are_renamed_and_the_rest_kept() {
        let openmetrics = "# HELP netpilot_network_receive_bytes Bytes received.\n\
# TYPE netpilot_network_receive_bytes counter\n\
netpilot_network_receive_bytes_total{device=\"lo\"} 42\n\
# HELP netpilot_daemon_clients Clients connected.\n\
# TYPE netpilot_daemon_clients gauge\n\
netpilot_daemon_clients 3\n\
# HELP netpilot_build Build.\n\
# TYPE netpilot_build info\n\
netpilot_build_info{version=\"0.1.0\"} 1\n\
# EOF\n";
        assert_eq!(
            classic(openmetrics),
            "# HELP netpilot_network_receive_bytes_total Bytes received.\n\
# TYPE netpilot_network_receive_bytes_total counter\n\
netpilot_network_receive_bytes_total{device=\"lo\"} 42\n\
# HELP netpilot_daemon_clients Clients connected.\n\
# TYPE netpilot_daemon_clients gauge\n\
netpilot_daemon_clients 3\n\
# HELP netpilot_build_info Build.\n\
# TYPE netpilot_build_info gauge\n\
netpilot_build_info{version=\"0.1.0\"} 1\n"
        );
    }
}
