//! Connecting as kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list of
//! files, merged by kubectl's rules), else `~/.kube/config`; `--context`,
//! `--cluster`, `--user` over the current context's; the context's namespace
//! when `-n` is absent; `--request-timeout`. Tokens, client certificates and
//! exec credential plugins are kube-client's (the same code kube-rs
//! controllers use).

use std::path::{Path, PathBuf};
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
    /// The user's exec credential plugin, if it has one (named when it fails).
    pub exec_command: Option<String>,
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
        Some(path) => read_file(path)?,
        None => read_default()?,
    };
    let context = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    check_names(&kubeconfig, options)?;
    let exec_command = user_of(&kubeconfig, options, &context)
        .and_then(|user| kubeconfig.auth_infos.iter().find(|a| a.name == user))
        .and_then(|a| a.auth_info.as_ref()?.exec.as_ref()?.command.clone());
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
    let client = kube::Client::try_from(config).map_err(|e| match e {
        // Credential plugins run here, before the first request.
        kube::Error::Auth(auth) => LiveError::Unauthorized {
            context: context.clone(),
            detail: super::auth_detail(exec_command.as_deref(), &auth),
        },
        other => LiveError::Config(format!(
            "connecting to {server} (context `{context}`): {}",
            super::error_chain(&other)
        )),
    })?;
    Ok(Connection {
        client,
        server,
        context,
        namespace,
        exec_command,
    })
}

fn read_file(path: &Path) -> Result<Kubeconfig, LiveError> {
    Kubeconfig::read_from(path)
        .map_err(|e| LiveError::Config(format!("reading the kubeconfig {}: {e}", path.display())))
}

/// `KUBECONFIG` (a list of files merged in order, the first one winning, and
/// files that do not exist skipped, as kubectl does), else `~/.kube/config`.
fn read_default() -> Result<Kubeconfig, LiveError> {
    let listed: Vec<PathBuf> = std::env::var_os("KUBECONFIG")
        .map(|value| {
            std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if listed.is_empty() {
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .map(PathBuf::from)
            .ok_or_else(|| {
                LiveError::Config("no KUBECONFIG and no home directory for ~/.kube/config".into())
            })?;
        return read_file(&home.join(".kube").join("config"));
    }
    let existing: Vec<&PathBuf> = listed.iter().filter(|p| p.exists()).collect();
    if existing.is_empty() {
        return Err(LiveError::Config(format!(
            "none of the files in KUBECONFIG exists: {}",
            listed
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    existing
        .into_iter()
        .try_fold(Kubeconfig::default(), |merged, path| {
            let next = read_file(path)?;
            merged.merge(next).map_err(|e| {
                LiveError::Config(format!("merging the kubeconfig {}: {e}", path.display()))
            })
        })
}

/// `--context`, `--cluster` and `--user` must name entries of the
/// kubeconfig (kube-client would connect anonymously without a user).
fn check_names(kubeconfig: &Kubeconfig, options: &ConnectOptions) -> Result<(), LiveError> {
    let missing = |what: &str, name: &str, known: Vec<&str>| {
        LiveError::Config(format!(
            "{what} `{name}` is not in the kubeconfig (it has: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    };
    let named = [
        (
            "context",
            &options.context,
            kubeconfig
                .contexts
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
        ),
        (
            "cluster",
            &options.cluster,
            kubeconfig
                .clusters
                .iter()
                .map(|c| c.name.as_str())
                .collect(),
        ),
        (
            "user",
            &options.user,
            kubeconfig
                .auth_infos
                .iter()
                .map(|a| a.name.as_str())
                .collect(),
        ),
    ];
    for (what, name, known) in named {
        if let Some(name) = name.as_deref().filter(|n| !known.contains(n)) {
            return Err(missing(what, name, known));
        }
    }
    Ok(())
}

/// The user a connection authenticates as: `--user`, else the context's.
fn user_of(kubeconfig: &Kubeconfig, options: &ConnectOptions, context: &str) -> Option<String> {
    options.user.clone().or_else(|| {
        kubeconfig
            .contexts
            .iter()
            .find(|c| c.name == context)?
            .context
            .as_ref()?
            .user
            .clone()
    })
}

/// The API server's Kubernetes version as `MAJOR.MINOR` (`/version`), for
/// the version-dependent checks when the configuration does not pin
/// `kubernetesVersion`.
pub async fn kubernetes_version(client: &kube::Client) -> Result<String, String> {
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| format!("asking the API server for its version: {e}"))?;
    major_minor(&info.major, &info.minor).ok_or_else(|| {
        format!(
            "the API server's version {:?}.{:?} is not MAJOR.MINOR",
            info.major, info.minor
        )
    })
}

/// `MAJOR.MINOR` from `/version`'s fields; managed clusters add a suffix to
/// the minor (`"27+"` on GKE and EKS).
fn major_minor(major: &str, minor: &str) -> Option<String> {
    let digits = |s: &str| -> Option<u64> {
        let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        s[..end].parse().ok()
    };
    Some(format!("{}.{}", digits(major)?, digits(minor)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_server_versions_are_read_as_major_minor() {
        assert_eq!(major_minor("1", "20").as_deref(), Some("1.20"));
        assert_eq!(major_minor("1", "27+").as_deref(), Some("1.27"));
        assert_eq!(major_minor("", "20"), None);
        assert_eq!(major_minor("1", "x"), None);
    }

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
