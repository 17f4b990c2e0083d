//! `per-user-installs`: programs installed per user under the profile folder, as Zoom, VS
//! Code (user setup), Slack, and the OneDrive and Teams updaters are, so one program has a
//! different image path on every host (and, for Slack and OneDrive's helpers, a version in
//! it that differs per host too). Each comes with its children and its updater.
//!
//! Who has what is fixed per host: everyone has the OneDrive and Teams updaters; Zoom,
//! Slack and VS Code each on a seeded share of the workstations. Programs run on weekdays
//! in office hours, children of the user's explorer.exe (updaters of the Task Scheduler).
//! All benign; no labels.

use rand::Rng;

use super::super::baseline::DayGen;
use super::super::clock::{HOUR, MIN};
use super::super::profiles::{Act, Profile, Who};
use super::super::topology::{Slot, Topology, derive};

/// Sites the programs talk to that the built-in lists lack.
const SITES: [&str; 6] = [
    "us05web.zoom.us",
    "marketplace.visualstudio.com",
    "update.code.visualstudio.com",
    "wss-primary.slack.com",
    "app.slack.com",
    "api.github.com",
];

pub(super) fn sites(topo: &mut Topology) {
    for name in SITES {
        topo.ensure_site(name, None);
    }
}

/// Which per-user programs a workstation's user has: (zoom, slack, vscode).
pub(super) fn installed(seed: u64, host: usize) -> (bool, bool, bool) {
    let h = derive(seed, &[0x9E1, host as u64]);
    (h % 10 < 7, (h >> 8) % 10 < 4, (h >> 16) % 10 < 4)
}

pub(super) fn day(g: &mut DayGen<'_>, host: usize) {
    let topo = g.b.topo;
    let Some(user) = topo.hosts[host].user else {
        return;
    };
    if g.day.weekend {
        return;
    }
    let (zoom, slack, code) = installed(topo.seed, host);
    let (from, to) = (g.ds + 9 * HOUR + 30 * MIN, g.ds + 15 * HOUR + 30 * MIN);
    let end = g.ds + 15 * HOUR + 45 * MIN;
    let explorer = super::explorer(g, host, user);
    let schedule = g.b.long_lived(host, Slot::Schedule);
    let dcom = g.b.long_lived(host, Slot::DcomLaunch);
    // Updaters everybody has.
    let t = g.b.time_in(from, to);
    g.run_profile(host, &ONEDRIVE_UPDATER, schedule, user, t, end, 0);
    if g.b.rng.random_bool(0.5) {
        let t = g.b.time_in(from, from + HOUR);
        g.run_profile(host, &TEAMS_UPDATE, explorer, user, t, end, 0);
    }
    if g.b.rng.random_bool(0.3) {
        let t = g.b.time_in(from, to);
        g.run_profile(host, &ONEDRIVE_COAUTH, dcom, user, t, end, 0);
    }
    if zoom {
        for _ in 0..g.b.rng.random_range(0..=3) {
            let t = g.work_time(from, to);
            g.run_profile(host, &ZOOM, explorer, user, t, end, 0);
        }
        if g.b.rng.random_bool(0.08) {
            let t = g.b.time_in(from, to);
            g.run_profile(host, &ZOOM_INSTALLER, explorer, user, t, end, 0);
        }
    }
    if slack {
        let t = g.b.time_in(from, from + HOUR);
        g.run_profile(host, &SLACK_STUB, explorer, user, t, end, 0);
    }
    if code {
        for _ in 0..g.b.rng.random_range(1..=2) {
            let t = g.work_time(from, to);
            g.run_profile(host, &CODE, explorer, user, t, end, 0);
        }
        if g.b.rng.random_bool(0.08) {
            let t = g.b.time_in(from, to);
            g.run_profile(host, &CODE_SETUP, explorer, user, t, end, 0);
        }
    }
}

const ZOOM_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Zoom\logs\zoom_stdout_stderr.log",
    r"C:\Users\{user}\AppData\Roaming\Zoom\data\Emojis\{hex8}.png",
    r"C:\Users\{user}\Documents\Zoom\2024-03 {doc}\meeting_saved_chat.txt",
];
const CODE_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Code\logs\{n4}\main.log",
    r"C:\Users\{user}\AppData\Roaming\Code\User\workspaceStorage\{hex8}\state.vscdb-journal",
    r"C:\Users\{user}\source\repos\{doc}\src\{doc}.py",
];
const SLACK_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Slack\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Roaming\Slack\logs\browser.log",
];

static ZOOM: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\Zoom.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Roaming\Zoom\bin\Zoom.exe" "--url=zoommtg://zoom.us/join?action=join&confno={n4}{n4}""#,
        r#""C:\Users\{user}\AppData\Roaming\Zoom\bin\Zoom.exe" --action=preLaunch"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\",
    who: Who::Session,
    loads: (40, 70),
    life_s: (900, 5_400),
    steps: (10, 40),
    acts: &[
        (Act::Site("zoom.us"), 25),
        (Act::Site("us05web.zoom.us"), 25),
        (Act::File(ZOOM_FILES), 10),
        (Act::PipeCreate, 3),
    ],
    children: &[(&ZOOM_CPTHOST, 0, 1), (&ZOOM_AOMHOST, 0, 1)],
};

static ZOOM_CPTHOST: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\CptHost.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Roaming\Zoom\bin\CptHost.exe" -action=shareAppInit"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\",
    who: Who::Parent,
    loads: (15, 25),
    life_s: (60, 1_800),
    steps: (0, 2),
    acts: &[(Act::PipeConnect, 1)],
    children: &[],
};

static ZOOM_AOMHOST: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\aomhost64.exe",
    cmds: &[r#""C:\Users\{user}\AppData\Roaming\Zoom\bin\aomhost64.exe" Zoom_{hex8}"#],
    cwd: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\",
    who: Who::Parent,
    loads: (10, 20),
    life_s: (60, 3_600),
    steps: (0, 2),
    acts: &[(Act::PipeConnect, 1)],
    children: &[],
};

static ZOOM_INSTALLER: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\Installer.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Roaming\Zoom\bin\Installer.exe" /upgrade /silent"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Roaming\Zoom\bin\",
    who: Who::Session,
    loads: (20, 35),
    life_s: (20, 120),
    steps: (2, 6),
    acts: &[
        (Act::Site("zoom.us"), 2),
        (
            Act::File(&[r"C:\Users\{user}\AppData\Roaming\Zoom\bin\{exe}"]),
            3,
        ),
    ],
    children: &[],
};

static SLACK_STUB: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\slack\slack.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\slack\slack.exe" --process-start-args --startup"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\slack\",
    who: Who::Session,
    loads: (10, 15),
    life_s: (2, 10),
    steps: (0, 0),
    acts: &[(Act::Load, 1)],
    children: &[(&SLACK_APP, 1, 1), (&SLACK_UPDATE, 0, 1)],
};

static SLACK_APP: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\slack.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\slack.exe" --startup"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\",
    who: Who::Parent,
    loads: (35, 60),
    life_s: (14_400, 28_800),
    steps: (15, 60),
    acts: &[
        (Act::Site("app.slack.com"), 30),
        (Act::Site("wss-primary.slack.com"), 30),
        (Act::Site("slack.com"), 10),
        (Act::File(SLACK_FILES), 10),
    ],
    children: &[(&SLACK_RENDERER, 1, 3)],
};

static SLACK_RENDERER: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\slack.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\slack.exe" --type=renderer --user-data-dir="C:\Users\{user}\AppData\Roaming\Slack" --app-path="C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\resources\app.asar" --renderer-client-id={n} --mojo-platform-channel-handle={n4} /prefetch:1"#,
        r#""C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\slack.exe" --type=gpu-process --user-data-dir="C:\Users\{user}\AppData\Roaming\Slack" --mojo-platform-channel-handle={n4} /prefetch:2"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\slack\app-4.{hv}.{hv3}\",
    who: Who::Parent,
    loads: (8, 20),
    life_s: (600, 14_400),
    steps: (0, 2),
    acts: &[(Act::PipeConnect, 1)],
    children: &[],
};

static SLACK_UPDATE: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\slack\Update.exe",
    cmds: &[r#""C:\Users\{user}\AppData\Local\slack\Update.exe" --checkForUpdate"#],
    cwd: r"C:\Users\{user}\AppData\Local\slack\",
    who: Who::Parent,
    loads: (12, 20),
    life_s: (5, 60),
    steps: (1, 2),
    acts: &[(Act::Site("slack.com"), 1)],
    children: &[],
};

static CODE: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe" "#,
        r#""C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe" "C:\Users\{user}\source\repos\{doc}""#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\",
    who: Who::Session,
    loads: (35, 60),
    life_s: (1_800, 21_600),
    steps: (8, 30),
    acts: &[
        (Act::Site("marketplace.visualstudio.com"), 10),
        (Act::Site("update.code.visualstudio.com"), 5),
        (Act::Site("api.github.com"), 5),
        (Act::File(CODE_FILES), 30),
    ],
    children: &[(&CODE_HELPER, 2, 4), (&CODE_GIT, 0, 3)],
};

static CODE_HELPER: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe" --type=renderer --user-data-dir="C:\Users\{user}\AppData\Roaming\Code" --renderer-client-id={n} --mojo-platform-channel-handle={n4} /prefetch:1"#,
        r#""C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe" --type=utility --utility-sub-type=node.mojom.NodeService --lang=en-US --service-sandbox-type=none --user-data-dir="C:\Users\{user}\AppData\Roaming\Code" --mojo-platform-channel-handle={n4} /prefetch:8"#,
        r#""C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\Code.exe" --type=gpu-process --user-data-dir="C:\Users\{user}\AppData\Roaming\Code" --mojo-platform-channel-handle={n4} /prefetch:2"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\",
    who: Who::Parent,
    loads: (8, 20),
    life_s: (600, 14_400),
    steps: (0, 2),
    acts: &[(Act::PipeConnect, 1)],
    children: &[],
};

static CODE_GIT: Profile = Profile {
    image: r"C:\Program Files\Git\cmd\git.exe",
    cmds: &[
        r#""C:\Program Files\Git\cmd\git.exe" -c core.quotepath=false -c color.ui=false status -z -uall"#,
        r#""C:\Program Files\Git\cmd\git.exe" fetch"#,
        r#""C:\Program Files\Git\cmd\git.exe" -c core.quotepath=false rev-parse --show-toplevel"#,
    ],
    cwd: r"C:\Users\{user}\source\repos\{doc}\",
    who: Who::Parent,
    loads: (6, 12),
    life_s: (1, 20),
    steps: (0, 1),
    acts: &[(Act::Site("github.com"), 1)],
    children: &[],
};

static CODE_SETUP: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Temp\vscode-stable-user-x64\CodeSetup-stable-{hex8}.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Temp\vscode-stable-user-x64\CodeSetup-stable-{hex8}.exe" /verysilent /log /update="C:\Users\{user}\AppData\Local\Temp\vscode-stable-user-x64\updating_version" /nocloseapplications /mergetasks=runcode,!desktopicon,!quicklaunchicon"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\Temp\vscode-stable-user-x64\",
    who: Who::Session,
    loads: (15, 25),
    life_s: (30, 180),
    steps: (3, 10),
    acts: &[(
        Act::File(&[
            r"C:\Users\{user}\AppData\Local\Programs\Microsoft VS Code\_\resources\app\out\{hex8}.js",
        ]),
        1,
    )],
    children: &[],
};

static ONEDRIVE_UPDATER: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Microsoft\OneDrive\OneDriveStandaloneUpdater.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Microsoft\OneDrive\OneDriveStandaloneUpdater.exe" /reporting"#,
        r#""C:\Users\{user}\AppData\Local\Microsoft\OneDrive\OneDriveStandaloneUpdater.exe""#,
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::Session,
    loads: (15, 30),
    life_s: (10, 120),
    steps: (1, 4),
    acts: &[
        (Act::Site("oneclient.sfx.ms"), 2),
        (Act::Site("g.live.com"), 1),
    ],
    children: &[],
};

static ONEDRIVE_COAUTH: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Microsoft\OneDrive\24.0{hv}.0128.0003\FileCoAuth.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Microsoft\OneDrive\24.0{hv}.0128.0003\FileCoAuth.exe" -Embedding"#,
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::Session,
    loads: (15, 30),
    life_s: (30, 600),
    steps: (0, 2),
    acts: &[(Act::Site("contoso.sharepoint.com"), 1)],
    children: &[],
};

static TEAMS_UPDATE: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Microsoft\Teams\Update.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Microsoft\Teams\Update.exe" --processStart "Teams.exe" --process-start-args "--profile=AAD""#,
        r#""C:\Users\{user}\AppData\Local\Microsoft\Teams\Update.exe" --checkForUpdate"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\Microsoft\Teams\",
    who: Who::Session,
    loads: (12, 20),
    life_s: (3, 60),
    steps: (0, 2),
    acts: &[(Act::Site("teams.microsoft.com"), 1)],
    children: &[],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::check;

    #[test]
    fn programs_are_well_formed() {
        for p in [
            &ZOOM,
            &ZOOM_INSTALLER,
            &SLACK_STUB,
            &CODE,
            &CODE_SETUP,
            &ONEDRIVE_UPDATER,
            &ONEDRIVE_COAUTH,
            &TEAMS_UPDATE,
        ] {
            check(p);
            assert!(p.image.starts_with(r"C:\Users\{user}\"), "{}", p.image);
        }
    }
}
