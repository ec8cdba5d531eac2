//! Connecting as kubectl does: `--kubeconfig`, else `KUBECONFIG` (a list of
//! files, merged by kubectl's rules), else `~/.kube/config`; `--context`,
//! `--cluster`, `--user` over the current context's; the context's namespace
//! when `-n` is absent; `--request-timeout`. Tokens and client certificates
//! are kube-client's (the same code kube-rs controllers use); exec
//! credential plugins are run here, with a deadline (`exec.rs`). Every file
//! named (the kubeconfigs and the CA, certificate, key and token files they
//! name) is read with a size limit ([`crate::whole_file`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::LiveError;
use super::exec::{ExecToken, ExecTokenLayer, Plugin};
use crate::whole_file;

/// kubectl's connection flags.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub cluster: Option<String>,
    pub user: Option<String>,
    /// `--request-timeout`; `None` (zero) waits forever for API requests,
    /// and [`super::exec::DEFAULT_TIMEOUT`] for an exec credential plugin.
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
    let mut kubeconfig = match &options.kubeconfig {
        Some(path) => read_file(path)?,
        None => read_default()?,
    };
    let context = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    check_names(&kubeconfig, options)?;
    let user = user_of(&kubeconfig, options, &context);
    let cluster = cluster_of(&kubeconfig, options, &context);
    read_referenced_files(&mut kubeconfig, cluster.as_deref(), user.as_deref())?;
    let exec_command = user
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
    let exec_token = run_exec_plugin(&mut config, options.request_timeout, &context).await?;
    let builder = kube::client::ClientBuilder::try_from(config).map_err(|e| match e {
        // A token file is read here, before the first request.
        kube::Error::Auth(auth) => LiveError::Credentials {
            context: context.clone(),
            detail: super::auth_detail(exec_command.as_deref(), &auth),
        },
        other => LiveError::Config(format!(
            "connecting to {server} (context `{context}`): {}",
            super::error_chain(&other)
        )),
    })?;
    let client = match exec_token {
        Some(token) => builder.with_layer(&ExecTokenLayer(token)).build(),
        None => builder.build(),
    };
    Ok(Connection {
        client,
        server,
        context,
        namespace,
        exec_command,
    })
}

/// Runs the user's exec credential plugin, if the connection uses it (as
/// kube-client decides: an auth provider, a user name and password, a token
/// or a token file come first), within `request_timeout` or the default:
/// its client certificate becomes the connection's, its token a layer that
/// adds it to each request and renews it. The plugin is taken out of the
/// configuration, so kube-client never runs it.
async fn run_exec_plugin(
    config: &mut kube::Config,
    request_timeout: Option<Duration>,
    context: &str,
) -> Result<Option<Arc<ExecToken>>, LiveError> {
    let auth = &config.auth_info;
    let uses_exec = auth.exec.is_some()
        && auth.auth_provider.is_none()
        && !(auth.username.is_some() && auth.password.is_some())
        && auth.token.is_none()
        && auth.token_file.is_none();
    if !uses_exec {
        return Ok(None);
    }
    let credentials = |e: super::exec::ExecError| LiveError::Credentials {
        context: context.to_owned(),
        detail: e.0,
    };
    let Some(exec) = config.auth_info.exec.take() else {
        return Ok(None);
    };
    let plugin = Plugin::new(exec, request_timeout).map_err(credentials)?;
    let running = plugin.clone();
    let credential = tokio::task::spawn_blocking(move || running.run())
        .await
        .map_err(|e| LiveError::Other(format!("running the credential plugin: {e}")))?
        .map_err(credentials)?;
    if let (Some(cert), Some(key)) = (
        &credential.client_certificate_data,
        &credential.client_key_data,
    ) {
        let base64 = base64::engine::general_purpose::STANDARD;
        config.auth_info.client_certificate_data = Some(base64.encode(cert));
        config.auth_info.client_key_data = Some(base64.encode(key).into());
        return Ok(None);
    }
    Ok(credential
        .token
        .map(|token| Arc::new(ExecToken::new(plugin, token, credential.expiration))))
}

/// A kubeconfig file, read with the size limit, as kube-client reads one
/// (UTF-16 with a byte-order mark too, several documents merged, relative
/// paths of files it names taken from its folder).
fn read_file(path: &Path) -> Result<Kubeconfig, LiveError> {
    let failed = |e: &dyn std::fmt::Display| {
        LiveError::Config(format!("reading the kubeconfig {}: {e}", path.display()))
    };
    let bytes = whole_file::read(path, whole_file::LIMIT).map_err(|e| failed(&e))?;
    let text = crate::load::decode_utf16(&bytes)
        .map(Ok)
        .unwrap_or_else(|| {
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
            String::from_utf8(bytes.to_vec()).map_err(|_| "it is not UTF-8 text")
        })
        .map_err(|e| failed(&e))?;
    let mut kubeconfig = Kubeconfig::from_yaml(&text).map_err(|e| failed(&e))?;
    if let Some(dir) = path.parent() {
        absolute_paths(&mut kubeconfig, dir);
    }
    Ok(kubeconfig)
}

/// The files a kubeconfig names, relative to its folder (as kube-client and
/// kubectl take them); an exec command only when it has a `/`, as a bare
/// name is looked up in `PATH`.
fn absolute_paths(kubeconfig: &mut Kubeconfig, dir: &Path) {
    let absolute = |path: &mut Option<String>| {
        if let Some(p) = path.as_deref()
            && Path::new(p).is_relative()
            && let Some(joined) = dir.join(p).to_str()
        {
            *path = Some(joined.to_owned());
        }
    };
    for named in &mut kubeconfig.clusters {
        if let Some(cluster) = &mut named.cluster {
            absolute(&mut cluster.certificate_authority);
        }
    }
    for named in &mut kubeconfig.auth_infos {
        if let Some(auth) = &mut named.auth_info {
            absolute(&mut auth.client_certificate);
            absolute(&mut auth.client_key);
            absolute(&mut auth.token_file);
            if let Some(exec) = &mut auth.exec
                && exec
                    .command
                    .as_deref()
                    .is_some_and(|c| c.contains(std::path::MAIN_SEPARATOR))
            {
                absolute(&mut exec.command);
            }
        }
    }
}

/// Reads the files the connection's cluster and user name, with the size
/// limit: the CA, the client certificate and key become their `-data`
/// fields (kube-client would read them whole, without a limit); the token
/// file is checked, and left for kube-client, which reads it again each
/// minute (a projected token is rotated).
fn read_referenced_files(
    kubeconfig: &mut Kubeconfig,
    cluster: Option<&str>,
    user: Option<&str>,
) -> Result<(), LiveError> {
    let read = |what: &str, path: &str| {
        whole_file::read(Path::new(path), whole_file::LIMIT)
            .map_err(|e| LiveError::Config(format!("reading the kubeconfig's {what} {path}: {e}")))
    };
    let base64 = base64::engine::general_purpose::STANDARD;
    if let Some(entry) = kubeconfig
        .clusters
        .iter_mut()
        .find(|c| Some(c.name.as_str()) == cluster)
        .and_then(|c| c.cluster.as_mut())
        && entry.certificate_authority_data.is_none()
        && let Some(path) = entry.certificate_authority.take()
    {
        entry.certificate_authority_data =
            Some(base64.encode(read("certificate-authority", &path)?));
    }
    if let Some(auth) = kubeconfig
        .auth_infos
        .iter_mut()
        .find(|a| Some(a.name.as_str()) == user)
        .and_then(|a| a.auth_info.as_mut())
    {
        if auth.client_certificate_data.is_none()
            && let Some(path) = auth.client_certificate.take()
        {
            auth.client_certificate_data = Some(base64.encode(read("client-certificate", &path)?));
        }
        if auth.client_key_data.is_none()
            && let Some(path) = auth.client_key.take()
        {
            auth.client_key_data = Some(base64.encode(read("client-key", &path)?).into());
        }
        if auth.token.is_none()
            && let Some(path) = &auth.token_file
        {
            read("tokenFile", path)?;
        }
    }
    Ok(())
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

/// The named context of the kubeconfig.
fn context_named<'k>(kubeconfig: &'k Kubeconfig, name: &str) -> Option<&'k kube::config::Context> {
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == name)?
        .context
        .as_ref()
}

/// The cluster a connection goes to: `--cluster`, else the context's.
fn cluster_of(kubeconfig: &Kubeconfig, options: &ConnectOptions, context: &str) -> Option<String> {
    options
        .cluster
        .clone()
        .or_else(|| Some(context_named(kubeconfig, context)?.cluster.clone()))
}

/// The user a connection authenticates as: `--user`, else the context's.
fn user_of(kubeconfig: &Kubeconfig, options: &ConnectOptions, context: &str) -> Option<String> {
    options
        .user
        .clone()
        .or_else(|| context_named(kubeconfig, context)?.user.clone())
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
