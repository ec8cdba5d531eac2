//! Connecting as kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list of
//! files, merged by kubectl's rules), else `~/.kube/config`; `--context`,
//! `--cluster`, `--user` over the current context's; the context's namespace
//! when `-n` is absent; `--request-timeout`. Tokens, client certificates and
//! exec credential plugins are kube-client's (the same code kube-rs
//! controllers use).

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::LiveError;

/// kubectl's connection flags.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    /// `--request-timeout`; `None` or zero waits forever.
    pub request_timeout: Option<Duration>,
}

/// A client and what it is connected to, for messages.
pub struct Connection {
    pub client: kube::Client,
    /// The API server's URL.
    pub server: String,
    /// The kubeconfig context in use.
    pub context: String,
    /// The context's namespace (or `default`).
    pub namespace: String,
}

/// Parses kubectl's `--request-timeout` (`30s`, `1m`, `2h`, `500ms`, a bare
/// number of seconds; `0` waits forever).
pub fn parse_timeout(text: &str) -> Result<Option<Duration>, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid --request-timeout `{text}`: use e.g. 30s, 1m or 0"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => {
            return Err(format!(
                "invalid --request-timeout `{text}`: the unit must be ms, s, m or h"
            ));
        }
    };
    Ok((seconds > 0.0).then(|| Duration::from_secs_f64(seconds)))
}

/// Loads the kubeconfig and builds a client.
pub async fn connect(options: &ConnectOptions) -> Result<Connection, LiveError> {
    let kubeconfig = match &options.kubeconfig {
        Some(path) => Kubeconfig::read_from(path).map_err(|e| {
            LiveError::Config(format!("reading the kubeconfig {}: {e}", path.display()))
        })?,
        None => Kubeconfig::read().map_err(|e| {
            LiveError::Config(format!(
                "reading the kubeconfig (KUBECONFIG, else ~/.kube/config): {e}"
            ))
        })?,
    };
    let context = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let kube_options = KubeConfigOptions {
        context: options.context.clone(),
        cluster: options.cluster.clone(),
        user: options.user.clone(),
    };
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &kube_options)
        .await
        .map_err(|e| LiveError::Config(format!("kubeconfig context `{context}`: {e}")))?;
    if let Some(timeout) = options.request_timeout {
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
    }
    let server = config.cluster_url.to_string();
    let namespace = config.default_namespace.clone();
    let client = kube::Client::try_from(config).map_err(|e| {
        LiveError::Config(format!(
            "connecting to {server} (context `{context}`): {}",
            super::error_chain(&e)
        ))
    })?;
    Ok(Connection {
        client,
        server,
        context,
        namespace,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_read_as_kubectl_does() {
        assert_eq!(parse_timeout("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(parse_timeout("1m"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(parse_timeout("500ms"), Ok(Some(Duration::from_millis(500))));
        assert_eq!(parse_timeout("5"), Ok(Some(Duration::from_secs(5))));
        assert_eq!(parse_timeout("0"), Ok(None));
        assert!(parse_timeout("soon").is_err());
        assert!(parse_timeout("3d").is_err());
    }
}
