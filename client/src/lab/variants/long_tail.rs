//! `long-tail`: the long tail of rare benign activity every real network has and the plain
//! lab lacks. Each item is rare and most are distinct: their paths carry GUIDs, versions
//! fixed per host or random names, their command lines packages, repositories or hosts.
//!
//! - Installers and updaters (all hosts; about one weekday in three, one in ten at
//!   weekends): the Visual C++ runtime from `C:\ProgramData\Package Cache\{GUID}` and its
//!   `C:\Windows\Temp\{GUID}\.be` engine, Google and Edge updaters under versioned folders and
//!   their `Install\{GUID}` setups, Defender and MSRT packages from `SoftwareDistribution`,
//!   `DismHost.exe` from `C:\Windows\Temp\{GUID}`, Adobe and Office updaters, MSI custom
//!   actions from `C:\Windows\Installer\MSIxxxx.tmp`, and user-run setups from Downloads.
//! - Scheduled maintenance tasks (every host, one or two a day): defrag, cleanmgr, disk
//!   snapshots, device census, update scans, error reporting and the like.
//! - Developer tools on a seeded three in ten workstations: git clones, pip, npm, MSBuild
//!   and dotnet builds from a shell, with their downloads.
//! - Administrators' one-off commands on their workstations (run as the admin account):
//!   ipconfig, whoami, gpupdate, gpresult, net use, net user, nltest, klist, netstat, ...
//!
//! Labels: every installer process (`long-tail-installers`) and every admin command with
//! its shell (`long-tail-admin-commands`) as hard negatives for process-anomaly.

use rand::Rng;

use super::super::Scenario;
use super::super::baseline::DayGen;
use super::super::clock::{HOUR, MIN};
use super::super::labels::{Draft, Label};
use super::super::topology::{SYSTEM, Slot, Topology, derive};

const SITES: [&str; 7] = [
    "update.googleapis.com",
    "msedge.api.cdp.microsoft.com",
    "armmf.adobe.com",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "api.nuget.org",
];

pub(super) fn sites(topo: &mut Topology) {
    for name in SITES {
        topo.ensure_site(name, None);
    }
}

/// One process of a chain; each step is the child of the one before.
struct Step {
    image: &'static str,
    cmd: &'static str,
    loads: u32,
    files: &'static [&'static str],
    site: Option<&'static str>,
}

const fn step(image: &'static str, cmd: &'static str, loads: u32) -> Step {
    Step {
        image,
        cmd,
        loads,
        files: &[],
        site: None,
    }
}

/// Who starts a chain.
#[derive(Clone, Copy, PartialEq, Eq)]
enum From {
    /// The Task Scheduler, as SYSTEM.
    Schedule,
    /// The service control manager, as SYSTEM.
    Services,
    /// The workstation user's explorer.exe.
    User,
}

struct Chain {
    from: From,
    steps: &'static [Step],
}

pub(super) fn day(g: &mut DayGen<'_>, host: usize, drafts: &mut Vec<Draft>) {
    let topo = g.b.topo;
    let weekend = g.day.weekend;
    let ws_user = topo.hosts[host].user;
    // Installers and updaters.
    if g.b.rng.random_bool(if weekend { 0.1 } else { 0.3 }) {
        let k = g.b.rng.random_range(0..INSTALLERS.len());
        let chain = &INSTALLERS[k];
        if let Some(user) = session(chain.from, ws_user, weekend) {
            let before = g.b.evs.len();
            let pids = run_chain(g, host, chain, user);
            let entities = pids
                .iter()
                .map(|&p| super::process_entity(&g.b, p))
                .collect();
            super::record(drafts, installers_draft, &g.b, before, entities);
        }
    }
    // Scheduled maintenance.
    for _ in 0..g.b.rng.random_range(1..=2) {
        let k = g.b.rng.random_range(0..TASKS.len());
        run_chain(g, host, &TASKS[k], SYSTEM);
    }
    let Some(user) = ws_user else {
        return;
    };
    if weekend {
        return;
    }
    // Developer tools.
    if derive(topo.seed, &[0x9E2, host as u64]) % 10 < 3 {
        for _ in 0..g.b.rng.random_range(1..=4) {
            let k = g.b.rng.random_range(0..DEV.len());
            run_chain(g, host, &DEV[k], user);
        }
    }
    // Administrators' one-off commands, as their admin account.
    let sam = &topo.users[user as usize].sam;
    let admin = topo
        .admins
        .clone()
        .find(|&a| topo.users[a as usize].sam == format!("adm-{sam}"));
    if let Some(admin) = admin
        && g.b.rng.random_bool(0.6)
    {
        for _ in 0..g.b.rng.random_range(1..=3) {
            let k = g.b.rng.random_range(0..ADMIN.len());
            let chain = Chain {
                from: From::User,
                steps: &ADMIN[k],
            };
            let before = g.b.evs.len();
            let pids = run_chain_as(g, host, &chain, user, admin);
            let entities = pids
                .iter()
                .map(|&p| super::process_entity(&g.b, p))
                .collect();
            super::record(drafts, admin_draft, &g.b, before, entities);
        }
    }
}

/// The user a chain runs as, or `None` when it cannot run (a user chain without a user).
fn session(from: From, user: Option<u16>, weekend: bool) -> Option<u16> {
    match from {
        From::User if weekend => None,
        From::User => user,
        _ => Some(SYSTEM),
    }
}

fn installers_draft() -> Draft {
    Draft::new(
        Scenario::ProcessAnomaly.name(),
        "long-tail-installers",
        Label::HardNegative,
        &["process-anomaly"],
        &[],
        "installers and updaters with versioned or GUID-named paths (Package Cache, \
         Windows\\Temp\\{GUID}, Google and Edge updaters, Defender and MSRT packages, MSI \
         custom actions, user-run setups): rare, each path seen once or on one host"
            .to_string(),
    )
}

fn admin_draft() -> Draft {
    Draft::new(
        Scenario::ProcessAnomaly.name(),
        "long-tail-admin-commands",
        Label::HardNegative,
        &["process-anomaly"],
        &[],
        "administrators' one-off commands from a shell run as their admin account \
         (ipconfig, whoami, gpupdate, net use, net user, nltest, klist, ...)"
            .to_string(),
    )
}

fn run_chain(g: &mut DayGen<'_>, host: usize, chain: &Chain, user: u16) -> Vec<u32> {
    run_chain_as(g, host, chain, user, user)
}

/// Runs a chain with the user's explorer (as `person`) or a service as its root, each
/// process as `user`; returns the processes.
fn run_chain_as(
    g: &mut DayGen<'_>,
    host: usize,
    chain: &Chain,
    person: u16,
    user: u16,
) -> Vec<u32> {
    let topo = g.b.topo;
    let (mut parent, mut t) = match chain.from {
        From::User => {
            let e = super::explorer(g, host, person);
            let t = g.work_time(g.ds + 9 * HOUR + 30 * MIN, g.ds + 15 * HOUR + 30 * MIN);
            (e, t)
        }
        From::Schedule => (g.b.long_lived(host, Slot::Schedule), g.any_time()),
        From::Services => (g.b.long_lived(host, Slot::Services), g.any_time()),
    };
    let vars = Vars::draw(g, host, person);
    let mut pids = Vec::with_capacity(chain.steps.len());
    for st in chain.steps {
        let image = vars.fill(st.image);
        let cmd = vars.fill(st.cmd);
        let cwd = match image.rfind('\\') {
            _ if chain.from == From::User => format!(r"C:\Users\{}\", vars.user),
            Some(i) => image[..=i].to_string(),
            None => r"C:\Windows\system32\".to_string(),
        };
        let (i, c, w) = (g.b.text(&image), g.b.text(&cmd), g.b.text(&cwd));
        let pid = g.b.spawn(host, user, i, c, w, parent, t);
        t = g.b.loads(pid, t, st.loads);
        if let Some(site) = st.site {
            let s = topo.site(site);
            t += g.b.rng.random_range(50..400) * 1_000_000;
            g.b.dns(t, pid, s.dns);
            t += g.b.rng.random_range(5..60) * 1_000_000;
            g.b.net_out(t, pid, s.https);
        }
        for f in st.files {
            t += g.b.rng.random_range(20..500) * 1_000_000;
            let path = g.b.text(&vars.fill(f));
            g.b.file(t, pid, path);
        }
        t += g.b.rng.random_range(50..2_000) * 1_000_000;
        pids.push(pid);
        parent = pid;
    }
    pids
}

/// The values a chain's templates draw once, so a path and the command line naming it
/// agree: `{G}`, `{G2}` GUIDs, `{X}` hex, `{N}` a small number, `{V}` a version fixed per
/// host, `{P}` a project or package, `{user}`, `{host}` another host, `{other}` another user.
struct Vars {
    g1: String,
    g2: String,
    x: String,
    n: u32,
    v: u64,
    p: &'static str,
    user: String,
    host: String,
    other: String,
}

impl Vars {
    fn draw(g: &mut DayGen<'_>, host: usize, user: u16) -> Self {
        let topo = g.b.topo;
        let guid = |g: &mut DayGen<'_>| {
            let v: u128 = g.b.rng.random();
            format!(
                "{:08X}-{:04X}-{:04X}-{:04X}-{:012X}",
                (v >> 96) as u32,
                (v >> 80) as u16,
                (v >> 64) as u16,
                (v >> 48) as u16,
                v & 0xFFFF_FFFF_FFFF
            )
        };
        let (g1, g2) = (guid(g), guid(g));
        let other = g.b.rng.random_range(topo.persons.clone());
        Vars {
            g1,
            g2,
            x: format!("{:08X}", g.b.rng.random::<u32>()),
            n: g.b.rng.random_range(1..10),
            v: 100 + derive(topo.seed, &[0x7E57, host as u64]) % 900,
            p: PROJECTS[g.b.rng.random_range(0..PROJECTS.len())],
            user: topo.users[user as usize].sam.clone(),
            host: topo.hosts[g.b.rng.random_range(0..topo.hosts.len())]
                .name
                .clone(),
            other: topo.users[other as usize].sam.clone(),
        }
    }

    fn fill(&self, tpl: &str) -> String {
        tpl.replace("{G2}", &self.g2)
            .replace("{G}", &self.g1)
            .replace("{X}", &self.x)
            .replace("{N}", &self.n.to_string())
            .replace("{V}", &self.v.to_string())
            .replace("{P}", self.p)
            .replace("{user}", &self.user)
            .replace("{host}", &self.host)
            .replace("{other}", &self.other)
    }
}

const PROJECTS: [&str; 10] = [
    "invoice-service",
    "requests",
    "pandas",
    "lodash",
    "express",
    "reporting-tool",
    "hr-portal",
    "pytest",
    "typescript",
    "data-pipeline",
];

static INSTALLERS: [Chain; 10] = [
    Chain {
        from: From::Schedule,
        steps: &[
            step(
                r"C:\ProgramData\Package Cache\{{G}}\VC_redist.x64.exe",
                r#""C:\ProgramData\Package Cache\{{G}}\VC_redist.x64.exe" /install /quiet /norestart"#,
                14,
            ),
            Step {
                image: r"C:\Windows\Temp\{{G2}}\.be\VC_redist.x64.exe",
                cmd: r#""C:\Windows\Temp\{{G2}}\.be\VC_redist.x64.exe" -q -burn.elevated BurnPipe.{{G}} {{G2}} 10{N}4"#,
                loads: 16,
                files: &[
                    r"C:\Windows\System32\vcruntime140_1.dll",
                    r"C:\Windows\System32\msvcp140.dll",
                ],
                site: None,
            },
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            Step {
                image: r"C:\Program Files (x86)\Google\Update\1.3.36.{V}\GoogleUpdate.exe",
                cmd: r#""C:\Program Files (x86)\Google\Update\1.3.36.{V}\GoogleUpdate.exe" /ua /installsource scheduler"#,
                loads: 18,
                files: &[],
                site: Some("update.googleapis.com"),
            },
            Step {
                image: r"C:\Program Files (x86)\Google\Update\Install\{{G}}\CR_{X}.tmp\setup.exe",
                cmd: r#""C:\Program Files (x86)\Google\Update\Install\{{G}}\CR_{X}.tmp\setup.exe" --install-archive="C:\Program Files (x86)\Google\Update\Install\{{G}}\CR_{X}.tmp\CHROME.PACKED.7Z" --verbose-logging --do-not-launch-chrome --system-level"#,
                loads: 20,
                files: &[
                    r"C:\Program Files\Google\Chrome\Application\12{N}.0.6478.{V}\chrome.dll",
                ],
                site: None,
            },
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            Step {
                image: r"C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe",
                cmd: r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\MicrosoftEdgeUpdate.exe" /ua /installsource scheduler"#,
                loads: 18,
                files: &[],
                site: Some("msedge.api.cdp.microsoft.com"),
            },
            step(
                r"C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\MicrosoftEdge_X64_12{N}.0.2592.{V}.exe",
                r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\MicrosoftEdge_X64_12{N}.0.2592.{V}.exe" --msedge --channel=stable --system-level --verbose-logging"#,
                12,
            ),
            Step {
                image: r"C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\EDGEMITMP_{X}.tmp\setup.exe",
                cmd: r#""C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\EDGEMITMP_{X}.tmp\setup.exe" --install-archive="C:\Program Files (x86)\Microsoft\EdgeUpdate\Install\{{G}}\MSEDGE.PACKED.7Z" --msedge --channel=stable --system-level --verbose-logging"#,
                loads: 20,
                files: &[
                    r"C:\Program Files (x86)\Microsoft\Edge\Application\12{N}.0.2592.{V}\msedge.dll",
                ],
                site: None,
            },
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[Step {
            image: r"C:\Windows\SoftwareDistribution\Download\Install\AM_Delta_Patch_1.40{N}.{V}.0.exe",
            cmd: r#""C:\Windows\SoftwareDistribution\Download\Install\AM_Delta_Patch_1.40{N}.{V}.0.exe" WD /q"#,
            loads: 10,
            files: &[
                r"C:\ProgramData\Microsoft\Windows Defender\Definition Updates\{{G}}\mpasdlta.vdm",
            ],
            site: None,
        }],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            step(
                r"C:\Windows\SoftwareDistribution\Download\Install\Windows-KB890830-x64-V5.12{N}.exe",
                r#""C:\Windows\SoftwareDistribution\Download\Install\Windows-KB890830-x64-V5.12{N}.exe" /Q /W"#,
                9,
            ),
            step(
                r"C:\Windows\System32\MRT.exe",
                r"C:\Windows\system32\MRT.exe /EHB /Q",
                25,
            ),
        ],
    },
    Chain {
        from: From::Services,
        steps: &[step(
            r"C:\Windows\Temp\{{G}}\DismHost.exe",
            r"C:\Windows\TEMP\{{G}}\dismhost.exe {{G2}}",
            22,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[
            Step {
                image: r"C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARM.exe",
                cmd: r#""C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARM.exe" "#,
                loads: 15,
                files: &[],
                site: Some("armmf.adobe.com"),
            },
            step(
                r"C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARMHelper.exe",
                r#""C:\Program Files (x86)\Common Files\Adobe\ARM\1.0\AdobeARMHelper.exe" /PipeName {X}"#,
                8,
            ),
        ],
    },
    Chain {
        from: From::Schedule,
        steps: &[Step {
            image: r"C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeC2RClient.exe",
            cmd: r#""C:\Program Files\Common Files\microsoft shared\ClickToRun\OfficeC2RClient.exe" /frequentupdate SCHEDULEDTASK displaylevel=False"#,
            loads: 20,
            files: &[
                r"C:\Program Files\Common Files\microsoft shared\ClickToRun\Updates\Download\PackageFiles\{G}\root\stream.x64.x-none.dat",
            ],
            site: Some("officecdn.microsoft.com"),
        }],
    },
    Chain {
        from: From::Services,
        steps: &[
            step(
                r"C:\Windows\System32\msiexec.exe",
                r"C:\Windows\system32\msiexec.exe /V",
                12,
            ),
            step(
                r"C:\Windows\SysWOW64\msiexec.exe",
                r"C:\Windows\syswow64\MsiExec.exe -Embedding {X}{X}{X}{X} C",
                14,
            ),
            step(
                r"C:\Windows\Installer\MSI{X}.tmp",
                r#""C:\Windows\Installer\MSI{X}.tmp" /silent"#,
                8,
            ),
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            step(
                r"C:\Users\{user}\Downloads\{P}-setup-2.{N}.{V}.exe",
                r#""C:\Users\{user}\Downloads\{P}-setup-2.{N}.{V}.exe" "#,
                10,
            ),
            Step {
                image: r"C:\Users\{user}\AppData\Local\Temp\is-{X}.tmp\{P}-setup-2.{N}.{V}.tmp",
                cmd: r#""C:\Users\{user}\AppData\Local\Temp\is-{X}.tmp\{P}-setup-2.{N}.{V}.tmp" /SL5="${X},{N}8241,832512,C:\Users\{user}\Downloads\{P}-setup-2.{N}.{V}.exe""#,
                loads: 14,
                files: &[r"C:\Users\{user}\AppData\Local\Programs\{P}\{P}.exe"],
                site: None,
            },
        ],
    },
];

static TASKS: [Chain; 12] = [
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\defrag.exe",
            r"C:\Windows\system32\defrag.exe -c -h -o -$",
            10,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\cleanmgr.exe",
            r"C:\Windows\system32\cleanmgr.exe /autoclean /d C:",
            18,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\disksnapshot.exe",
            r"C:\Windows\system32\disksnapshot.exe -z",
            6,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\DeviceCensus.exe",
            r"C:\Windows\system32\devicecensus.exe SystemCxt",
            12,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\srtasks.exe",
            r"C:\Windows\system32\srtasks.exe ExecuteScheduledSPPCreation",
            9,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\wermgr.exe",
            r"C:\Windows\system32\wermgr.exe -upload",
            11,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\dstokenclean.exe",
            r"C:\Windows\system32\dstokenclean.exe",
            5,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\usoclient.exe",
            r"C:\Windows\system32\usoclient.exe StartScan",
            8,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\sc.exe",
            r"C:\Windows\system32\sc.exe start w32time task_started",
            3,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\rundll32.exe",
            r"C:\Windows\system32\rundll32.exe Windows.Storage.ApplicationData.dll,CleanupTemporaryState",
            7,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\BthUdTask.exe",
            r"BthUdTask.exe $(Arg0)",
            4,
        )],
    },
    Chain {
        from: From::Schedule,
        steps: &[step(
            r"C:\Windows\System32\tzsync.exe",
            r"C:\Windows\system32\tzsync.exe",
            4,
        )],
    },
];

const SHELL: Step = step(
    r"C:\Windows\System32\cmd.exe",
    r#""C:\Windows\system32\cmd.exe" "#,
    3,
);
const PWSH: Step = step(
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" "#,
    30,
);

static DEV: [Chain; 5] = [
    Chain {
        from: From::User,
        steps: &[
            SHELL,
            step(
                r"C:\Program Files\Git\cmd\git.exe",
                r"git  clone https://github.com/contoso/{P}.git",
                8,
            ),
            Step {
                image: r"C:\Program Files\Git\mingw64\libexec\git-core\git-remote-https.exe",
                cmd: r"git-remote-https origin https://github.com/contoso/{P}.git",
                loads: 9,
                files: &[r"C:\Users\{user}\source\repos\{P}\.git\packed-refs"],
                site: Some("github.com"),
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            PWSH,
            Step {
                image: r"C:\Users\{user}\AppData\Local\Programs\Python\Python312\python.exe",
                cmd: r#""C:\Users\{user}\AppData\Local\Programs\Python\Python312\python.exe" -m pip install --upgrade {P}"#,
                loads: 25,
                files: &[
                    r"C:\Users\{user}\AppData\Local\Programs\Python\Python312\Lib\site-packages\{P}\__init__.py",
                ],
                site: Some("files.pythonhosted.org"),
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            SHELL,
            Step {
                image: r"C:\Program Files\nodejs\node.exe",
                cmd: r#""C:\Program Files\nodejs\node.exe" "C:\Program Files\nodejs\node_modules\npm\bin\npm-cli.js" install {P}"#,
                loads: 20,
                files: &[
                    r"C:\Users\{user}\source\repos\{P}\node_modules\.package-lock.json",
                ],
                site: Some("registry.npmjs.org"),
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            SHELL,
            Step {
                image: r"C:\Program Files\Microsoft Visual Studio\2022\Professional\MSBuild\Current\Bin\amd64\MSBuild.exe",
                cmd: r#""C:\Program Files\Microsoft Visual Studio\2022\Professional\MSBuild\Current\Bin\amd64\MSBuild.exe" {P}.sln /t:Build /p:Configuration=Release /m"#,
                loads: 40,
                files: &[r"C:\Users\{user}\source\repos\{P}\bin\Release\{P}.dll"],
                site: None,
            },
        ],
    },
    Chain {
        from: From::User,
        steps: &[
            PWSH,
            Step {
                image: r"C:\Program Files\dotnet\dotnet.exe",
                cmd: r#""C:\Program Files\dotnet\dotnet.exe" build {P}.csproj -c Release"#,
                loads: 30,
                files: &[r"C:\Users\{user}\source\repos\{P}\obj\project.assets.json"],
                site: Some("api.nuget.org"),
            },
        ],
    },
];

/// An admin command: the admin's shell and the tool.
static ADMIN: [[Step; 2]; 14] = [
    [
        SHELL,
        step(r"C:\Windows\System32\ipconfig.exe", "ipconfig  /all", 4),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\ipconfig.exe",
            "ipconfig  /flushdns",
            4,
        ),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\whoami.exe", "whoami  /groups", 5),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\whoami.exe", "whoami  /priv", 5),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\gpupdate.exe", "gpupdate  /force", 9),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\gpresult.exe",
            "gpresult  /r /scope computer",
            10,
        ),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\net.exe",
            r"net  use Z: \\FS01\Shared /persistent:no",
            5,
        ),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\net.exe",
            "net  user {other} /domain",
            5,
        ),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\nltest.exe",
            "nltest  /dsgetdc:contoso.local",
            6,
        ),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\klist.exe", "klist  purge", 4),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\NETSTAT.EXE", "netstat  -ano", 4),
    ],
    [
        SHELL,
        step(
            r"C:\Windows\System32\tasklist.exe",
            "tasklist  /v /s {host}",
            7,
        ),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\nslookup.exe", "nslookup  {host}", 5),
    ],
    [
        SHELL,
        step(r"C:\Windows\System32\quser.exe", "quser  /server:{host}", 4),
    ],
];
