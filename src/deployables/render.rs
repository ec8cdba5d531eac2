//! Running the real renderers: Kustomize and Helm as child processes.
//!
//! A Kustomize root is built through a *wrapper* kustomization written to a
//! fresh temporary directory outside the repository:
//!
//! ```yaml
//! resources:
//! - "../../path/to/repo/overlays/prod"
//! buildMetadata: [originAnnotations, transformerAnnotations]
//! ```
//!
//! so the user's files are never touched and every rendered object carries
//! `config.kubernetes.io/origin` and `alpha.config.kubernetes.io/transformations`
//! annotations, with paths relative to the wrapper's directory
//! ([`Rendered::wrapper_dir`]; see [`super::origin`]).
//!
//! No flag that enables plugins, exec functions, Helm inflation, remote
//! loading or a looser load restrictor is ever passed. Kustomize still tries
//! remote bases by default, so every child also runs with an environment in
//! which the network fails at once: HTTP(S) proxies at a closed local port
//! and git limited to local repositories (see [`offline`]). A remote base is
//! then a quick build failure, never a fetch.
//!
//! Each run has a deadline. stdout and stderr are drained on their own
//! threads (large renderings cannot fill a pipe and stall the child); past
//! the deadline the child and, on Unix, its whole process group (git, plugins)
//! are killed and the child is reaped.

use std::ffi::{OsStr, OsString};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{LazyLock, mpsc};
use std::time::{Duration, Instant};
use std::{fmt, fs, thread};

use regex::Regex;
use wait_timeout::ChildExt;

use crate::source::absolute_normalized;

/// The programs that render deployables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renderers {
    /// Kustomize programs tried in order; the first that can be started is used.
    pub kustomize: Vec<KustomizeProgram>,
    /// The Helm program.
    pub helm: OsString,
    /// Deadline of one render.
    pub timeout: Duration,
}

/// A program that builds kustomizations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KustomizeProgram {
    /// Standalone Kustomize: `<program> build DIR`.
    Standalone(OsString),
    /// kubectl's embedded Kustomize: `<program> kustomize DIR`.
    Kubectl(OsString),
}

impl Default for Renderers {
    fn default() -> Self {
        Renderers {
            kustomize: vec![
                KustomizeProgram::Standalone("kustomize".into()),
                KustomizeProgram::Kubectl("kubectl".into()),
            ],
            helm: "helm".into(),
            timeout: Duration::from_secs(60),
        }
    }
}

/// A successful rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The renderer's stdout: a multi-document YAML stream.
    pub text: String,
    /// How it was run, for messages: `kubectl kustomize`, `kustomize build`,
    /// `helm template`.
    pub program: String,
    /// The wrapper kustomization's directory, already deleted: origin paths
    /// in `text` are relative to it. This is the directory as Kustomize saw
    /// it (symlinks resolved), so `wrapper_dir.join(origin)` with `..`
    /// resolved lexically names the file. `None` for Helm.
    pub wrapper_dir: Option<PathBuf>,
    /// How long the render took, wrapper included.
    pub elapsed: Duration,
    /// What the renderer printed on stderr although it succeeded, one entry
    /// a line: deprecations such as `Warning: 'commonLabels' is deprecated.
    /// Please use 'labels' instead. …` (Kustomize's `# ` prefix removed).
    pub warnings: Vec<String>,
}

/// Why a render did not produce output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    /// No program could be started: none was found.
    Missing { tried: Vec<String> },
    /// The program ran and failed, or could not be prepared. `message` is
    /// the renderer's own message, cleaned: log prefixes and the wrapper's
    /// layer removed, paths under the current directory made relative. It
    /// may span several lines (Kustomize quotes configuration in messages);
    /// the `Display` form puts it on one.
    Failed { program: String, message: String },
    /// Still running at the deadline: killed.
    TimedOut { program: String, after: Duration },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::Missing { tried } => match tried.as_slice() {
                [one] => write!(f, "`{one}` was not found on PATH"),
                many => write!(f, "none of `{}` was found on PATH", many.join("`, `")),
            },
            RenderError::Failed { program, message } => {
                write!(f, "{program} failed: {}", one_line(message))
            }
            RenderError::TimedOut { program, after } => write!(
                f,
                "{program} did not finish within {} and was stopped",
                seconds(*after)
            ),
        }
    }
}

impl std::error::Error for RenderError {}

/// Builds the kustomization at `root` (a directory, absolute or relative to
/// the current directory) with the first Kustomize program that can be
/// started, through a wrapper kustomization that asks for origin and
/// transformer annotations.
pub fn kustomize_build(renderers: &Renderers, root: &Path) -> Result<Rendered, RenderError> {
    let started = Instant::now();
    let root = absolute_normalized(root);
    let setup_failed = |message: String| RenderError::Failed {
        program: "kustomize".into(),
        message,
    };
    let wrapper = tempfile::Builder::new()
        .prefix("kubectl-inject-")
        .tempdir()
        .map_err(|e| setup_failed(format!("cannot create a temporary directory: {e}")))?;
    // Kustomize resolves the wrapper's directory through symlinks (macOS's
    // /var is /private/var) and then joins `..` to it lexically, so the
    // relative path must start from the resolved directory.
    let dir = resolved(wrapper.path());
    let listed = relative_path(&dir, &root)
        .as_deref()
        .and_then(slash_separated)
        .ok_or_else(|| {
            setup_failed(format!(
                "{} cannot be reached from the temporary directory {} by a relative path",
                root.display(),
                dir.display()
            ))
        })?;
    // A JSON string is a YAML scalar that survives any character in a path.
    let quoted = serde_json::Value::String(listed.clone()).to_string();
    let kustomization = format!(
        "resources:\n- {quoted}\nbuildMetadata: [originAnnotations, transformerAnnotations]\n"
    );
    fs::write(dir.join("kustomization.yaml"), kustomization)
        .map_err(|e| setup_failed(format!("cannot write the wrapper kustomization: {e}")))?;

    let attempts = renderers.kustomize.iter().map(|program| {
        let (program, subcommand) = match program {
            KustomizeProgram::Standalone(p) => (p, "build"),
            KustomizeProgram::Kubectl(p) => (p, "kustomize"),
        };
        let mut command = Command::new(program);
        command.arg(subcommand).arg(&dir);
        (label(program, subcommand), display_name(program), command)
    });
    let scrub = Scrub {
        wrapper: Some(WrapperNames {
            dirs: path_strings(&[wrapper.path(), &dir]),
            listed,
            root: display_relative(&root),
        }),
        ..Scrub::current_dir()
    };
    let result = run_first(attempts, renderers.timeout, &scrub);
    // The wrapper goes now, whatever happened; a failure to delete it is not
    // the user's problem.
    let _ = wrapper.close();
    let (program, text, warnings) = result?;
    Ok(Rendered {
        text,
        program,
        wrapper_dir: Some(dir),
        elapsed: started.elapsed(),
        warnings,
    })
}

/// Renders the chart at `chart` with `helm template RELEASE CHART
/// [--namespace NS] [-f VALUES]...`: no repository access, no dependency
/// update (a chart whose dependencies are not vendored fails with Helm's
/// own message).
pub fn helm_template(
    renderers: &Renderers,
    chart: &Path,
    release: &str,
    namespace: Option<&str>,
    values: &[PathBuf],
) -> Result<Rendered, RenderError> {
    let started = Instant::now();
    let mut command = Command::new(&renderers.helm);
    command.arg("template").arg(release).arg(not_a_flag(chart));
    if let Some(namespace) = namespace {
        command.arg("--namespace").arg(namespace);
    }
    for file in values {
        command.arg("-f").arg(not_a_flag(file));
    }
    let attempt = (
        label(&renderers.helm, "template"),
        display_name(&renderers.helm),
        command,
    );
    let (program, text, warnings) = run_first([attempt], renderers.timeout, &Scrub::current_dir())?;
    Ok(Rendered {
        text,
        program,
        wrapper_dir: None,
        elapsed: started.elapsed(),
        warnings,
    })
}

/// Runs the first command that can be started: its label, stdout and
/// warnings.
fn run_first(
    attempts: impl IntoIterator<Item = (String, String, Command)>,
    timeout: Duration,
    scrub: &Scrub,
) -> Result<(String, String, Vec<String>), RenderError> {
    let mut tried = Vec::new();
    for (program, name, command) in attempts {
        let finished = match run(command, timeout) {
            Ok(finished) => finished,
            Err(RunError::NotFound) => {
                tried.push(name);
                continue;
            }
            Err(RunError::TimedOut) => {
                return Err(RenderError::TimedOut {
                    program,
                    after: timeout,
                });
            }
            Err(RunError::Io(e)) => {
                return Err(RenderError::Failed {
                    program,
                    message: format!("cannot run it: {e}"),
                });
            }
        };
        let stderr = String::from_utf8_lossy(&finished.stderr);
        if !finished.status.success() {
            let mut message = scrub.clean(&error_text(&stderr));
            if message.is_empty() {
                message = format!("{}, with no message", finished.status);
            }
            return Err(RenderError::Failed { program, message });
        }
        let text = match String::from_utf8(finished.stdout) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        let warnings = stderr
            .lines()
            .map(|line| line.trim().trim_start_matches("# "))
            .filter(|line| !line.is_empty())
            .map(|line| scrub.clean(line))
            .collect();
        return Ok((program, text, warnings));
    }
    Err(RenderError::Missing { tried })
}

/// What a finished child left.
struct Finished {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

enum RunError {
    /// The program does not exist: try the next one.
    NotFound,
    TimedOut,
    Io(io::Error),
}

/// The longest deadline honoured; beyond it `Instant` arithmetic could
/// overflow on some platforms, and no render should take a year anyway.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// Runs `command` with null stdin, both outputs captured, offline, until it
/// exits or `timeout` passes.
fn run(mut command: Command, timeout: Duration) -> Result<Finished, RunError> {
    let timeout = timeout.min(LONGEST_TIMEOUT);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    offline(&mut command);
    #[cfg(unix)]
    {
        // Its own process group, so a timeout can stop what it started too.
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    let deadline = Instant::now() + timeout;
    let mut child = match spawn(&mut command) {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(RunError::NotFound),
        Err(e) => return Err(RunError::Io(e)),
    };

    let (sender, receiver) = mpsc::channel();
    let readers = drain(child.stdout.take(), Stream::Stdout, sender.clone())
        .and_then(|()| drain(child.stderr.take(), Stream::Stderr, sender));
    if let Err(e) = readers {
        stop(&mut child);
        return Err(RunError::Io(e));
    }

    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            stop(&mut child);
            return Err(RunError::TimedOut);
        }
        Err(e) => {
            stop(&mut child);
            return Err(RunError::Io(e));
        }
    };
    // The child is gone, but something it started may still hold the pipes
    // open: the deadline covers the reading too.
    let (mut stdout, mut stderr) = (None, None);
    while stdout.is_none() || stderr.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(left) {
            Ok((Stream::Stdout, read)) => stdout = Some(read.map_err(RunError::Io)?),
            Ok((Stream::Stderr, read)) => stderr = Some(read.map_err(RunError::Io)?),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_group(&child);
                return Err(RunError::TimedOut);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(RunError::Io(io::Error::other("an output reader stopped")));
            }
        }
    }
    Ok(Finished {
        status,
        stdout: stdout.unwrap_or_default(),
        stderr: stderr.unwrap_or_default(),
    })
}

/// Starts `command`, retrying briefly while the program file is busy: a
/// renderer being replaced at that moment, or (in tests) a fake renderer
/// just written while another thread forks and holds it open.
fn spawn(command: &mut Command) -> io::Result<Child> {
    let mut retries = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy && retries < 50 => {
                retries += 1;
                thread::sleep(Duration::from_millis(10));
            }
            result => return result,
        }
    }
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

type Chunk = (Stream, io::Result<Vec<u8>>);

/// Reads `pipe` to its end on a thread of its own and sends what it read.
fn drain(
    pipe: Option<impl Read + Send + 'static>,
    stream: Stream,
    sender: mpsc::Sender<Chunk>,
) -> io::Result<()> {
    let Some(mut pipe) = pipe else {
        let _ = sender.send((stream, Ok(Vec::new())));
        return Ok(());
    };
    thread::Builder::new()
        .name("renderer-output".into())
        .spawn(move || {
            let mut buffer = Vec::new();
            let read = pipe.read_to_end(&mut buffer).map(|_| buffer);
            // The receiver is gone after a timeout: nothing to report to.
            let _ = sender.send((stream, read));
        })
        .map(drop)
}

/// Kills the child and its process group and reaps it.
fn stop(child: &mut Child) {
    kill_group(child);
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills the child's process group (it leads one: see [`run`]).
#[cfg(unix)]
fn kill_group(child: &Child) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let pid = i32::try_from(child.id()).ok().and_then(Pid::from_raw);
    // Never pid 1: `kill(-1)` would signal every process we may signal.
    if let Some(pid) = pid.filter(|pid| pid.as_raw_nonzero().get() > 1) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

#[cfg(not(unix))]
fn kill_group(_child: &Child) {}

/// Where HTTP(S) proxies point in renderers' environments: port 0 on the
/// loopback interface refuses every connection at once.
const CLOSED_PROXY: &str = "http://127.0.0.1:0";

/// Makes the child's network access fail fast: Go's HTTP client (Kustomize
/// fetching a remote file) goes through a proxy that refuses connections,
/// and git (Kustomize cloning a remote base) may use local repositories
/// only and never prompts for credentials. Loopback addresses stay
/// reachable: Go does not proxy them.
fn offline(command: &mut Command) {
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env(proxy, CLOSED_PROXY);
    }
    command
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("GIT_ALLOW_PROTOCOL", "file")
        .env("GIT_TERMINAL_PROMPT", "0");
}

/// `kubectl kustomize` for `/usr/bin/kubectl`: how a program is named in messages.
fn label(program: &OsStr, subcommand: &str) -> String {
    format!("{} {subcommand}", display_name(program))
}

fn display_name(program: &OsStr) -> String {
    let name = Path::new(program)
        .file_name()
        .unwrap_or(program)
        .to_string_lossy();
    match name.strip_suffix(".exe") {
        Some(stem) => stem.to_owned(),
        None => name.into_owned(),
    }
}

/// A path that a renderer cannot mistake for a flag.
fn not_a_flag(path: &Path) -> PathBuf {
    if path.as_os_str().to_string_lossy().starts_with('-') {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// The directory with symlinks resolved, where the platform's temporary
/// directory is reached through one.
fn resolved(dir: &Path) -> PathBuf {
    // On Windows `canonicalize` gives `\\?\` paths, which a relative path
    // from the repository could not be computed against.
    if cfg!(unix) {
        fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
    } else {
        dir.to_path_buf()
    }
}

/// The relative path from directory `from` to `to`, both absolute and
/// normalized; `None` when they share no root (another drive).
fn relative_path(from: &Path, to: &Path) -> Option<PathBuf> {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let rooted = |c: &Component| matches!(c, Component::Prefix(_) | Component::RootDir);
    if common == 0 || from[common..].iter().chain(&to[common..]).any(rooted) {
        return None;
    }
    let mut relative: PathBuf = from[common..]
        .iter()
        .map(|_| Component::ParentDir)
        .collect();
    relative.extend(&to[common..]);
    if relative.as_os_str().is_empty() {
        relative.push(".");
    }
    Some(relative)
}

/// `a/b/c` whatever the platform's separator (Kustomize accepts `/`
/// everywhere); `None` when the path is not valid UTF-8.
fn slash_separated(path: &Path) -> Option<String> {
    let parts: Option<Vec<&str>> = path.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn path_strings(paths: &[&Path]) -> Vec<String> {
    let mut strings: Vec<String> = paths
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    strings.sort();
    strings.dedup();
    // Longest first, so that a path is replaced before one it extends.
    strings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    strings
}

/// How messages should name `path`: relative to the current directory when
/// under it, else absolute.
fn display_relative(path: &Path) -> String {
    let cwd = std::env::current_dir().ok();
    cwd.and_then(|cwd| path.strip_prefix(absolute_normalized(&cwd)).ok())
        .map_or_else(
            || path.display().to_string(),
            |relative| {
                if relative.as_os_str().is_empty() {
                    ".".to_owned()
                } else {
                    relative.display().to_string()
                }
            },
        )
}

/// What a renderer's message names that the user should not see, or should
/// see shorter.
#[derive(Debug, Default)]
struct Scrub {
    wrapper: Option<WrapperNames>,
    /// The current directory, as given and with symlinks resolved
    /// (Kustomize reports resolved paths): paths under it are shown
    /// relative to it.
    cwd: Vec<String>,
}

#[derive(Debug)]
struct WrapperNames {
    /// The wrapper's directory, as created and as resolved.
    dirs: Vec<String>,
    /// The relative path the wrapper lists as its resource.
    listed: String,
    /// How to name the root instead of `listed`.
    root: String,
}

/// What stands for the wrapper's directory in the rare messages that name it.
const WRAPPER: &str = "<wrapper>";

impl Scrub {
    fn current_dir() -> Scrub {
        let Ok(cwd) = std::env::current_dir() else {
            return Scrub::default();
        };
        let cwd = absolute_normalized(&cwd);
        // Relative to `/` would only hide that paths are absolute.
        if cwd.parent().is_none() {
            return Scrub::default();
        }
        let resolved = fs::canonicalize(&cwd).unwrap_or_else(|_| cwd.clone());
        Scrub {
            wrapper: None,
            cwd: path_strings(&[&cwd, &resolved]),
        }
    }

    /// The message without the wrapper, its layer of Kustomize's error
    /// chain, or the current directory's path.
    fn clean(&self, message: &str) -> String {
        let mut message = message.trim().to_owned();
        if let Some(wrapper) = &self.wrapper {
            message = strip_wrapper_layer(&message, &wrapper.listed).to_owned();
            // A root that does not exist is reported as the path listed.
            message = message.replace(
                &format!("'{}'", wrapper.listed),
                &format!("'{}'", wrapper.root),
            );
            for dir in &wrapper.dirs {
                message = replace_dir(&message, dir, WRAPPER);
            }
        }
        for dir in &self.cwd {
            message = replace_dir(&message, dir, ".");
        }
        message
    }
}

/// Removes the layer that the wrapper adds in front of Kustomize's error:
/// what is left is the message `kustomize build ROOT` itself prints.
///
/// ```text
/// accumulating resources: accumulation err='accumulating resources from '../repo/x':
/// '/repo/x' must resolve to a file': recursed accumulation of path '/repo/x': REST
/// ```
/// (one line; `couldn't make target for path '/repo/x': REST` when the root's
/// own kustomization is invalid).
fn strip_wrapper_layer<'m>(message: &'m str, listed: &str) -> &'m str {
    let strip = || {
        let rest = message
            .strip_prefix(
                "accumulating resources: accumulation err='accumulating resources from '",
            )?
            .strip_prefix(listed)?
            .strip_prefix("': '")?;
        let (path, rest) = rest.split_once("' must resolve to a file': ")?;
        if path.contains('\'') {
            return None;
        }
        let rest = rest
            .strip_prefix("recursed accumulation of path '")
            .or_else(|| rest.strip_prefix("couldn't make target for path '"))?;
        let (again, rest) = rest.split_once("': ")?;
        (again == path).then_some(rest)
    };
    strip().unwrap_or(message)
}

/// Replaces `dir` where the message names it or a path under it: `dir/x`
/// becomes `with/x` (just `x` when `with` is `.`), `dir` alone `with`. A
/// match inside a longer path (`/a/dir`, `dir2`) is left alone.
fn replace_dir(message: &str, dir: &str, with: &str) -> String {
    let path_char = |c: char| c.is_alphanumeric() || "._-~@+/\\".contains(c);
    if dir.is_empty() {
        return message.to_owned();
    }
    let mut out = String::with_capacity(message.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = message.get(search..).and_then(|rest| rest.find(dir)) {
        let at = search + found;
        let end = at + dir.len();
        search = end;
        if message[..at].chars().next_back().is_some_and(path_char) {
            continue;
        }
        match message[end..].chars().next() {
            Some(separator @ ('/' | '\\')) => {
                out.push_str(&message[copied..at]);
                if with != "." {
                    out.push_str(with);
                    out.push(separator);
                }
                copied = end + 1;
                search = copied;
            }
            Some(next) if path_char(next) => {}
            _ => {
                out.push_str(&message[copied..at]);
                out.push_str(with);
                copied = end;
            }
        }
    }
    out.push_str(&message[copied..]);
    out
}

/// The error a renderer printed on stderr, without log decoration:
/// kubectl's klog line (`E1207 15:58:16.634289 14943 run.go:72] "command
/// failed" err="…"`), else a cobra-style `Error: …` (standalone Kustomize,
/// Helm), else whatever is not a warning.
fn error_text(stderr: &str) -> String {
    if let Some(message) = klog_error(stderr) {
        return message;
    }
    let lines: Vec<&str> = stderr.lines().collect();
    if let Some(at) = lines.iter().rposition(|l| l.starts_with("Error: ")) {
        let mut message: Vec<&str> = lines[at..]
            .iter()
            .take_while(|l| !l.starts_with("Usage:"))
            .copied()
            .collect();
        if let Some(first) = message.first_mut() {
            *first = first.trim_start_matches("Error: ");
        }
        return message.join("\n").trim().to_owned();
    }
    lines
        .iter()
        .filter(|l| !is_warning(l))
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_owned()
}

fn is_warning(line: &str) -> bool {
    let line = line.trim_start();
    ["# Warning:", "Warning:", "WARNING:"]
        .iter()
        .any(|p| line.starts_with(p))
        || KLOG
            .captures(line)
            .is_some_and(|c| matches!(&c[1], "I" | "W"))
}

/// A klog header: severity, date, time, thread, `file:line]`.
static KLOG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^([IWEF])\d{4} \d\d:\d\d:\d\d\.\d+ +\d+ [^ \]]+\] ?(.*)$")
        .unwrap_or_else(|e| unreachable!("a constant pattern: {e}"))
});

/// The `err` value of the last error-level klog line (the message itself
/// when none has one). klog quotes values as Go strings, or writes a value
/// with line breaks as `err=<` then its lines indented with a tab, closed
/// by ` >`.
fn klog_error(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut with_err = None;
    let mut without_err = None;
    for (i, line) in lines.iter().enumerate() {
        let Some(captures) = KLOG.captures(line) else {
            continue;
        };
        if !matches!(&captures[1], "E" | "F") {
            continue;
        }
        let body = captures.get(2).map_or("", |m| m.as_str());
        let value = body
            .find(" err=")
            .map(|at| &body[at + 5..])
            .or_else(|| body.strip_prefix("err="));
        match value {
            Some(value) if value.starts_with('"') => {
                with_err = go_unquote(value).map(|(text, _)| text);
            }
            Some("<") => {
                let block: Vec<&str> = lines[i + 1..]
                    .iter()
                    .take_while(|l| l.trim_end() != " >")
                    .map(|l| l.strip_prefix('\t').unwrap_or(l))
                    .collect();
                with_err = Some(block.join("\n"));
            }
            Some(value) => with_err = Some(value.to_owned()),
            None => {
                let message = go_unquote(body).map_or_else(|| body.to_owned(), |(text, _)| text);
                without_err = Some(message);
            }
        }
    }
    with_err.or(without_err).map(|m| m.trim().to_owned())
}

/// Reads the Go-quoted string at the start of `s` (`"a \"b\"\n"`): its
/// text and what follows the closing quote. An unterminated string is read
/// to the end.
fn go_unquote(s: &str) -> Option<(String, &str)> {
    let body = s.strip_prefix('"')?;
    let mut bytes = Vec::with_capacity(body.len());
    let mut chars = body.char_indices();
    let mut rest = "";
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                rest = &body[at + 1..];
                break;
            }
            '\\' => {
                let Some((_, escaped)) = chars.next() else {
                    break;
                };
                let simple = match escaped {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'v' => Some('\x0b'),
                    '\\' | '"' | '\'' => Some(escaped),
                    _ => None,
                };
                if let Some(c) = simple {
                    push_char(&mut bytes, c);
                    continue;
                }
                let (digits, radix) = match escaped {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (2, 8),
                    other => {
                        bytes.push(b'\\');
                        push_char(&mut bytes, other);
                        continue;
                    }
                };
                let mut number = String::new();
                if radix == 8 {
                    number.push(escaped);
                }
                number.extend(chars.by_ref().take(digits).map(|(_, d)| d));
                let value = u32::from_str_radix(&number, radix).ok();
                match (escaped, value) {
                    // `\x` and octal escapes are bytes (of invalid UTF-8).
                    ('x' | '0'..='7', Some(byte)) => {
                        bytes.push(u8::try_from(byte).unwrap_or(b'?'));
                    }
                    (_, Some(code)) => {
                        push_char(&mut bytes, char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    (_, None) => push_char(&mut bytes, '\u{fffd}'),
                }
            }
            c => push_char(&mut bytes, c),
        }
    }
    Some((String::from_utf8_lossy(&bytes).into_owned(), rest))
}

fn push_char(bytes: &mut Vec<u8>, c: char) {
    bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// The message on one line: line breaks and the indentation after them
/// become one space.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `60 s`, `1.5 s`, `200 ms`.
fn seconds(duration: Duration) -> String {
    if duration < Duration::from_secs(1) {
        format!("{} ms", duration.as_millis())
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// stderr of `kubectl kustomize` (v1.32.4, Kustomize v5.5.0) on the
    /// wrapper `/tmp/kubectl-inject-CAPTURE`, listing `../kexp/bad/NAME`, run
    /// from `/tmp/kexp`: see `testdata/kubectl-errors/`.
    fn captured_scrub(listed: &str) -> Scrub {
        Scrub {
            wrapper: Some(WrapperNames {
                dirs: vec!["/tmp/kubectl-inject-CAPTURE".into()],
                listed: listed.into(),
                root: listed.trim_start_matches("../kexp/").into(),
            }),
            cwd: vec!["/tmp/kexp".into()],
        }
    }

    fn cleaned(stderr: &str, listed: &str) -> String {
        captured_scrub(listed).clean(&error_text(stderr))
    }

    #[test]
    fn captured_kubectl_errors_read_as_kustomize_build_root_would_print_them() {
        let cases: &[(&str, &str, &str)] = &[
            (
                include_str!("testdata/kubectl-errors/missing.txt"),
                "../kexp/bad/missing",
                "accumulating resources: accumulation err='accumulating resources from 'nothere.yaml': \
                 evalsymlink failure on 'bad/missing/nothere.yaml' : lstat bad/missing/nothere.yaml: \
                 no such file or directory': must build at directory: not a valid directory: \
                 evalsymlink failure on 'bad/missing/nothere.yaml' : lstat bad/missing/nothere.yaml: \
                 no such file or directory",
            ),
            (
                include_str!("testdata/kubectl-errors/unknown.txt"),
                "../kexp/bad/unknown",
                r#"invalid Kustomization: json: unknown field "resourcez""#,
            ),
            (
                include_str!("testdata/kubectl-errors/smp.txt"),
                "../kexp/bad/smp",
                r#"no resource matches strategic merge patch "Deployment.v1.apps/other.[noNs]": no matches for Id Deployment.v1.apps/other.[noNs]; failed to find unique target for patch Deployment.v1.apps/other.[noNs]"#,
            ),
            (
                include_str!("testdata/kubectl-errors/cycle.txt"),
                "../kexp/bad/cyc/a",
                "accumulating resources: accumulation err='accumulating resources from '../b': \
                 'bad/cyc/b' must resolve to a file': recursed accumulation of path 'bad/cyc/b': \
                 accumulating resources: accumulation err='accumulating resources from '../a': \
                 'bad/cyc/a' must resolve to a file': cycle detected: candidate root 'bad/cyc/a' \
                 contains visited root 'bad/cyc/a'",
            ),
            (
                include_str!("testdata/kubectl-errors/invalid.txt"),
                "../kexp/bad/invalid",
                "invalid Kustomization: yaml: line 3: mapping values are not allowed in this context",
            ),
            (
                include_str!("testdata/kubectl-errors/invres.txt"),
                "../kexp/bad/invres",
                "accumulating resources: accumulating resources from 'a.yaml': MalformedYAMLError: \
                 yaml: line 4: did not find expected key in File: a.yaml",
            ),
            (
                include_str!("testdata/kubectl-errors/remote.txt"),
                "../kexp/bad/remote",
                "accumulating resources: accumulation err='accumulating resources from \
                 'https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1': \
                 Get \"https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\": \
                 proxyconnect tcp: dial tcp 127.0.0.1:0: connect: connection refused': failed to run \
                 '/usr/local/bin/git fetch --depth=1 https://github.com/kubernetes-sigs/kustomize v3.3.1': \
                 fatal: transport 'https' not allowed\n: exit status 128",
            ),
            (
                include_str!("testdata/kubectl-errors/plugin.txt"),
                "../kexp/bad/plugin",
                "external plugins disabled; unable to load external plugin 'ChartInflator'",
            ),
            (
                include_str!("testdata/kubectl-errors/helmc.txt"),
                "../kexp/bad/helmc",
                "trouble configuring builtin HelmChartInflationGenerator with config: `\n\
                 name: minecraft\nreleaseName: moria\nrepo: https://itzg.github.io/minecraft-server-charts\n\
                 version: 3.1.3\n`: must specify --enable-helm",
            ),
            (
                include_str!("testdata/kubectl-errors/nokust.txt"),
                "../kexp/bad/nokust",
                "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' \
                 in directory 'bad/nokust'",
            ),
            (
                include_str!("testdata/kubectl-errors/noroot.txt"),
                "../kexp/bad/doesnotexist",
                "accumulating resources: accumulation err='accumulating resources from 'bad/doesnotexist': \
                 evalsymlink failure on 'bad/doesnotexist' : lstat bad/doesnotexist: no such file or \
                 directory': must build at directory: not a valid directory: evalsymlink failure on \
                 'bad/doesnotexist' : lstat bad/doesnotexist: no such file or directory",
            ),
        ];
        for (stderr, listed, expected) in cases {
            let message = cleaned(stderr, listed);
            assert_eq!(&message, expected, "{listed}");
            assert!(!message.contains("kubectl-inject-"), "{message}");
        }
    }

    #[test]
    fn display_is_one_line() {
        let error = RenderError::Failed {
            program: "kubectl kustomize".into(),
            message: cleaned(
                include_str!("testdata/kubectl-errors/helmc.txt"),
                "../kexp/bad/helmc",
            ),
        };
        assert_eq!(
            error.to_string(),
            "kubectl kustomize failed: trouble configuring builtin HelmChartInflationGenerator \
             with config: ` name: minecraft releaseName: moria repo: \
             https://itzg.github.io/minecraft-server-charts version: 3.1.3 `: must specify --enable-helm"
        );
        let missing = RenderError::Missing {
            tried: vec!["kustomize".into(), "kubectl".into()],
        };
        assert_eq!(
            missing.to_string(),
            "none of `kustomize`, `kubectl` was found on PATH"
        );
        let timed_out = RenderError::TimedOut {
            program: "helm template".into(),
            after: Duration::from_secs(60),
        };
        assert_eq!(
            timed_out.to_string(),
            "helm template did not finish within 60 s and was stopped"
        );
    }

    #[test]
    fn standalone_and_helm_errors_drop_the_error_prefix_and_warnings() {
        let stderr = "# Warning: 'commonLabels' is deprecated. Please use 'labels' instead.\n\
                      Error: accumulating resources: accumulation err='accumulating resources from '../kexp/bad/x': \
                      '/tmp/kexp/bad/x' must resolve to a file': recursed accumulation of path '/tmp/kexp/bad/x': \
                      no matches for Id Deployment.v1.apps/web.[noNs]\n";
        assert_eq!(
            cleaned(stderr, "../kexp/bad/x"),
            "no matches for Id Deployment.v1.apps/web.[noNs]"
        );
        let helm =
            "walk.go:75: found symbolic link in path: /x\nError: Chart.yaml file is missing\n";
        assert_eq!(error_text(helm), "Chart.yaml file is missing");
        assert_eq!(error_text("  something broke  \n"), "something broke");
        assert_eq!(error_text("# Warning: only this\n"), "");
    }

    #[test]
    fn go_strings_are_unquoted() {
        let (text, rest) = go_unquote(r#""a \"b\"\n\t\\ \x41\u00e9\303\251" more"#).unwrap();
        assert_eq!(text, "a \"b\"\n\t\\ Aéé");
        assert_eq!(rest, " more");
        // Broken input is read as far as it goes, never a panic.
        for broken in [
            r#""abc"#,
            r#""\"#,
            r#""\x4"#,
            r#""\u12"#,
            r#""\U0011ffff""#,
            r#""\q""#,
        ] {
            assert!(go_unquote(broken).is_some(), "{broken}");
        }
        assert!(go_unquote("no quote").is_none());
    }

    #[test]
    fn directories_are_replaced_only_as_whole_path_parts() {
        let message = "'/tmp/kexp' and /tmp/kexp/a.yaml, /x/tmp/kexp/b, /tmp/kexp2/c, /tmp/kexp.d";
        assert_eq!(
            replace_dir(message, "/tmp/kexp", "."),
            "'.' and a.yaml, /x/tmp/kexp/b, /tmp/kexp2/c, /tmp/kexp.d"
        );
        assert_eq!(
            replace_dir("at /tmp/w/kustomization.yaml", "/tmp/w", WRAPPER),
            "at <wrapper>/kustomization.yaml"
        );
        assert_eq!(replace_dir("x", "", "."), "x");
    }

    #[test]
    fn relative_paths_between_absolute_directories() {
        let relative = |from: &str, to: &str| {
            relative_path(Path::new(from), Path::new(to)).map(|p| slash_separated(&p).unwrap())
        };
        assert_eq!(
            relative("/tmp/kubectl-inject-x", "/work/repo/overlays/prod").as_deref(),
            Some("../../work/repo/overlays/prod")
        );
        assert_eq!(relative("/a/b", "/a/b/c").as_deref(), Some("c"));
        assert_eq!(relative("/a/b", "/a").as_deref(), Some(".."));
        assert_eq!(relative("/a/b", "/a/b").as_deref(), Some("."));
        assert_eq!(relative("relative", "/a"), None);
    }

    #[cfg(unix)]
    mod processes {
        use super::*;
        use std::os::unix::fs::PermissionsExt;

        /// A fake renderer: a shell script in `dir`.
        fn fake(dir: &Path, name: &str, body: &str) -> PathBuf {
            let path = dir.join(name);
            fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
            path
        }

        fn kustomize_only(program: KustomizeProgram) -> Renderers {
            Renderers {
                kustomize: vec![program],
                ..Renderers::default()
            }
        }

        #[test]
        fn a_fake_kustomize_renders_through_the_wrapper() {
            let dir = tempfile::tempdir().unwrap();
            let kustomize = fake(
                dir.path(),
                "kustomize",
                r##"printf '%s\n' "# $1" "apiVersion: v1"
cat "$2/kustomization.yaml"
printf '%s\n' "# Warning: 'commonLabels' is deprecated." >&2"##,
            );
            let root = Path::new("src/deployables/testdata/kustomize-tree/overlays/prod");
            let rendered = kustomize_build(
                &kustomize_only(KustomizeProgram::Standalone(kustomize.into())),
                root,
            )
            .unwrap();
            assert_eq!(rendered.program, "kustomize build");
            assert!(
                rendered
                    .text
                    .starts_with("# build\napiVersion: v1\nresources:\n- \"")
            );
            assert!(
                rendered
                    .text
                    .ends_with("\nbuildMetadata: [originAnnotations, transformerAnnotations]\n")
            );
            assert_eq!(
                rendered.warnings,
                ["Warning: 'commonLabels' is deprecated."]
            );
            let wrapper = rendered.wrapper_dir.unwrap();
            assert!(!wrapper.exists(), "the wrapper is deleted");
            let name = wrapper.file_name().unwrap().to_string_lossy();
            assert!(name.starts_with("kubectl-inject-"), "{name}");
            // The listed path leads from the wrapper to the root.
            let listed: String = serde_json::from_str(
                rendered
                    .text
                    .lines()
                    .nth(3)
                    .unwrap()
                    .trim_start_matches("- "),
            )
            .unwrap();
            assert!(listed.starts_with("../"), "{listed}");
            assert_eq!(
                absolute_normalized(&wrapper.join(listed)),
                absolute_normalized(root)
            );
        }

        #[test]
        fn a_failing_renderer_reports_its_cleaned_message() {
            let dir = tempfile::tempdir().unwrap();
            let kubectl = fake(
                dir.path(),
                "kubectl",
                r##"printf '%s\n' "# Warning: 'commonLabels' is deprecated." >&2
printf '%s\n' "E1207 15:58:16.634289   14943 run.go:72] \"command failed\" err=\"invalid Kustomization in $2/kustomization.yaml: json: unknown field \\\"resourcez\\\"\"" >&2
exit 1"##,
            );
            let error = kustomize_build(
                &kustomize_only(KustomizeProgram::Kubectl(kubectl.into())),
                dir.path(),
            )
            .unwrap_err();
            assert_eq!(
                error,
                RenderError::Failed {
                    program: "kubectl kustomize".into(),
                    message: r#"invalid Kustomization in <wrapper>/kustomization.yaml: json: unknown field "resourcez""#.into(),
                }
            );
        }

        #[test]
        fn a_renderer_past_its_deadline_is_killed_with_what_it_started() {
            let dir = tempfile::tempdir().unwrap();
            let pid_file = dir.path().join("sleep.pid");
            let slow = fake(
                dir.path(),
                "kustomize",
                &format!("sleep 30 &\necho $! > '{}'\nwait", pid_file.display()),
            );
            let renderers = Renderers {
                timeout: Duration::from_millis(500),
                ..kustomize_only(KustomizeProgram::Standalone(slow.into()))
            };
            let started = Instant::now();
            let error = kustomize_build(&renderers, dir.path()).unwrap_err();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{:?}",
                started.elapsed()
            );
            assert_eq!(
                error,
                RenderError::TimedOut {
                    program: "kustomize build".into(),
                    after: Duration::from_millis(500),
                }
            );
            #[cfg(target_os = "linux")]
            {
                // The grandchild went with the process group.
                let pid = fs::read_to_string(&pid_file).unwrap();
                let proc = PathBuf::from(format!("/proc/{}", pid.trim()));
                let deadline = Instant::now() + Duration::from_secs(5);
                while proc.exists() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(20));
                }
                assert!(!proc.exists(), "sleep {} still runs", pid.trim());
            }
        }

        #[test]
        fn a_missing_program_falls_back_to_the_next() {
            let dir = tempfile::tempdir().unwrap();
            let kubectl = fake(dir.path(), "kubectl", r#"echo "kind: $1""#);
            let renderers = Renderers {
                kustomize: vec![
                    KustomizeProgram::Standalone(dir.path().join("kustomize").into()),
                    KustomizeProgram::Kubectl(kubectl.into()),
                ],
                ..Renderers::default()
            };
            let rendered = kustomize_build(&renderers, dir.path()).unwrap();
            assert_eq!(rendered.program, "kubectl kustomize");
            assert_eq!(rendered.text, "kind: kustomize\n");
        }

        #[test]
        fn no_program_at_all_is_missing() {
            let dir = tempfile::tempdir().unwrap();
            let renderers = Renderers {
                kustomize: vec![
                    KustomizeProgram::Standalone(dir.path().join("kustomize").into()),
                    KustomizeProgram::Kubectl(dir.path().join("kubectl").into()),
                ],
                helm: dir.path().join("helm").into(),
                ..Renderers::default()
            };
            assert_eq!(
                kustomize_build(&renderers, dir.path()).unwrap_err(),
                RenderError::Missing {
                    tried: vec!["kustomize".into(), "kubectl".into()]
                }
            );
            assert_eq!(
                helm_template(&renderers, dir.path(), "web", None, &[]).unwrap_err(),
                RenderError::Missing {
                    tried: vec!["helm".into()]
                }
            );
        }

        #[test]
        fn a_program_that_cannot_be_executed_fails_without_fallback() {
            let dir = tempfile::tempdir().unwrap();
            let kustomize = fake(dir.path(), "kustomize", "echo never");
            fs::set_permissions(&kustomize, fs::Permissions::from_mode(0o644)).unwrap();
            let kubectl = fake(dir.path(), "kubectl", "echo fallback");
            let renderers = Renderers {
                kustomize: vec![
                    KustomizeProgram::Standalone(kustomize.into()),
                    KustomizeProgram::Kubectl(kubectl.into()),
                ],
                ..Renderers::default()
            };
            let error = kustomize_build(&renderers, dir.path()).unwrap_err();
            assert!(
                matches!(&error, RenderError::Failed { program, message }
                    if program == "kustomize build" && message.starts_with("cannot run it:")),
                "{error:?}"
            );
        }

        #[test]
        fn large_outputs_do_not_stall_the_renderer() {
            let dir = tempfile::tempdir().unwrap();
            let loud = fake(
                dir.path(),
                "kustomize",
                "head -c 1000000 /dev/zero | tr '\\0' e >&2\n\
                 head -c 8000000 /dev/zero | tr '\\0' o\n\
                 head -c 1000000 /dev/zero | tr '\\0' e >&2",
            );
            let rendered = kustomize_build(
                &kustomize_only(KustomizeProgram::Standalone(loud.into())),
                dir.path(),
            )
            .unwrap();
            assert_eq!(rendered.text.len(), 8_000_000);
            assert!(rendered.text.bytes().all(|b| b == b'o'));
            assert_eq!(
                rendered.warnings.iter().map(String::len).sum::<usize>(),
                2_000_000
            );
        }

        #[test]
        fn helm_template_gets_release_chart_namespace_and_values() {
            let dir = tempfile::tempdir().unwrap();
            let argv = dir.path().join("argv");
            let helm = fake(
                dir.path(),
                "helm",
                &format!(
                    "printf '%s\\n' \"$@\" > '{}'\nprintf '%s\\n' '---' '# Source: web/templates/a.yaml' 'kind: A'",
                    argv.display()
                ),
            );
            let renderers = Renderers {
                helm: helm.into(),
                ..Renderers::default()
            };
            let rendered = helm_template(
                &renderers,
                Path::new("charts/web"),
                "web",
                Some("prod"),
                &["values.yaml".into(), "-odd.yaml".into()],
            )
            .unwrap();
            assert_eq!(rendered.program, "helm template");
            assert_eq!(rendered.wrapper_dir, None);
            assert_eq!(
                rendered.text,
                "---\n# Source: web/templates/a.yaml\nkind: A\n"
            );
            assert_eq!(
                fs::read_to_string(&argv).unwrap(),
                "template\nweb\ncharts/web\n--namespace\nprod\n-f\nvalues.yaml\n-f\n./-odd.yaml\n"
            );

            let failing = fake(
                dir.path(),
                "helm-failing",
                "echo 'Error: Chart.yaml file is missing' >&2\nexit 1",
            );
            let renderers = Renderers {
                helm: failing.into(),
                ..Renderers::default()
            };
            assert_eq!(
                helm_template(&renderers, Path::new("charts/web"), "web", None, &[]).unwrap_err(),
                RenderError::Failed {
                    program: "helm-failing template".into(),
                    message: "Chart.yaml file is missing".into(),
                }
            );
        }

        #[test]
        fn renderers_run_offline() {
            let dir = tempfile::tempdir().unwrap();
            let env = fake(
                dir.path(),
                "kubectl",
                "echo \"$HTTPS_PROXY $http_proxy ${NO_PROXY-unset} $GIT_ALLOW_PROTOCOL $GIT_TERMINAL_PROMPT\"",
            );
            let rendered = kustomize_build(
                &kustomize_only(KustomizeProgram::Kubectl(env.into())),
                dir.path(),
            )
            .unwrap();
            assert_eq!(
                rendered.text,
                "http://127.0.0.1:0 http://127.0.0.1:0 unset file 0\n"
            );
        }
    }

    /// The real thing, when kubectl is installed.
    mod kubectl {
        use super::*;

        fn kubectl() -> Renderers {
            Renderers {
                kustomize: vec![KustomizeProgram::Kubectl("kubectl".into())],
                ..Renderers::default()
            }
        }

        /// Builds a kustomization written to a temporary directory; `None`
        /// (and a line on stdout) when kubectl is not on PATH.
        fn build(files: &[(&str, &str)]) -> Option<Result<Rendered, RenderError>> {
            let dir = tempfile::tempdir().unwrap();
            for (name, text) in files {
                fs::write(dir.path().join(name), text).unwrap();
            }
            match kustomize_build(&kubectl(), dir.path()) {
                Err(RenderError::Missing { .. }) => {
                    println!("kubectl is not on PATH: skipped");
                    None
                }
                other => Some(other),
            }
        }

        #[test]
        fn kubectl_kustomize_annotates_origins() {
            let Some(result) = build(&[
                ("kustomization.yaml", "resources:\n- cm.yaml\n"),
                (
                    "cm.yaml",
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
                ),
            ]) else {
                return;
            };
            let rendered = result.unwrap();
            assert_eq!(rendered.program, "kubectl kustomize");
            assert!(
                rendered
                    .text
                    .contains("config.kubernetes.io/origin: |\n      path: ../"),
                "{}",
                rendered.text
            );
            assert!(rendered.text.contains("/cm.yaml\n"), "{}", rendered.text);
        }

        #[test]
        fn kubectl_kustomize_errors_are_the_roots_own() {
            let Some(result) = build(&[("kustomization.yaml", "resourcez:\n- a.yaml\n")]) else {
                return;
            };
            assert_eq!(
                result.unwrap_err(),
                RenderError::Failed {
                    program: "kubectl kustomize".into(),
                    message: r#"invalid Kustomization: json: unknown field "resourcez""#.into(),
                }
            );
        }

        #[test]
        fn a_remote_base_fails_fast_offline() {
            let started = Instant::now();
            let Some(result) = build(&[(
                "kustomization.yaml",
                "resources:\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1\n",
            )]) else {
                return;
            };
            let error = result.unwrap_err();
            let RenderError::Failed { message, .. } = &error else {
                panic!("{error:?}");
            };
            assert!(
                message.starts_with(
                    "accumulating resources: accumulation err='accumulating resources from \
                     'https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v3.3.1'"
                ),
                "{message}"
            );
            assert!(message.contains("not allowed"), "{message}");
            assert!(!message.contains("kubectl-inject-"), "{message}");
            assert!(started.elapsed() < Duration::from_secs(20));
        }
    }
}
