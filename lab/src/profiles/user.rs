//! The programs people run: browsers, mail, chat, office, editors, shells and the
//! desktop.

use super::*;
use crate::topology::Svc;

pub(super) static CHROME: Profile = Profile {
    image: r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    cmds: &[
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe""#,
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --profile-directory=Default"#,
    ],
    cwd: r"C:\Program Files\Google\Chrome\Application\",
    who: Who::Session,
    loads: (25, 45),
    life_s: (600, 28_800),
    steps: (20, 120),
    acts: &[
        (Act::Browse, 70),
        (Act::File(CHROME_FILES), 15),
        (Act::PipeCreate, 4),
        (Act::Load, 10),
    ],
    children: &[(&CHROME_CHILD, 2, 6)],
};

pub(super) static CHROME_CHILD: Profile = Profile {
    image: r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    cmds: &[
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=renderer --lang=en-US --renderer-client-id={n} --mojo-platform-channel-handle={n4} /prefetch:1"#,
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=gpu-process --gpu-preferences=WAAAAAAAAADgAAAMAAAAAAAAAAAAAAAAAABgAAAAAAA --mojo-platform-channel-handle={n4} /prefetch:2"#,
        r#""C:\Program Files\Google\Chrome\Application\chrome.exe" --type=utility --utility-sub-type=network.mojom.NetworkService --lang=en-US --service-sandbox-type=none --mojo-platform-channel-handle={n4} /prefetch:8"#,
    ],
    cwd: r"C:\Program Files\Google\Chrome\Application\",
    who: Who::Parent,
    loads: (8, 20),
    life_s: (60, 7_200),
    steps: (0, 2),
    acts: &[(Act::PipeConnect, 1)],
    children: &[],
};

pub(super) static EDGE: Profile = Profile {
    image: r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    cmds: &[
        r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe" --single-argument https://contoso.sharepoint.com/"#,
        r#""C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe""#,
    ],
    cwd: r"C:\Program Files (x86)\Microsoft\Edge\Application\",
    who: Who::Session,
    loads: (25, 45),
    life_s: (300, 14_400),
    steps: (10, 60),
    acts: &[
        (Act::Browse, 60),
        (Act::Site("contoso.sharepoint.com"), 15),
        (Act::File(EDGE_FILES), 12),
        (Act::Load, 8),
    ],
    children: &[],
};

pub(super) static OUTLOOK: Profile = Profile {
    image: r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    cmds: &[r#""C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE" "#],
    cwd: r"C:\Users\{user}\",
    who: Who::Session,
    loads: (50, 80),
    life_s: (14_400, 36_000),
    steps: (30, 120),
    acts: &[
        (Act::Site("outlook.office365.com"), 50),
        (Act::Site("substrate.office.com"), 10),
        (Act::Internal(Target::Dc, Svc::Ldap), 8),
        (Act::File(OUTLOOK_FILES), 15),
        (Act::Load, 10),
    ],
    children: &[],
};

pub(super) static TEAMS: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Microsoft\Teams\current\Teams.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Microsoft\Teams\current\Teams.exe" --system-initiated"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\Microsoft\Teams\current\",
    who: Who::Session,
    loads: (40, 70),
    life_s: (14_400, 36_000),
    steps: (30, 100),
    acts: &[
        (Act::Site("teams.microsoft.com"), 55),
        (Act::Site("graph.microsoft.com"), 10),
        (Act::Site("login.microsoftonline.com"), 5),
        (Act::File(TEAMS_FILES), 15),
        (Act::PipeCreate, 5),
    ],
    children: &[],
};

pub(super) static WORD: Profile = Profile {
    image: r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
    cmds: &[
        r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "C:\Users\{user}\Documents\{doc}.docx" /o """#,
        r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" /n "\\FS01\Shared\{doc}.docx""#,
        r#""C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE" "#,
    ],
    cwd: r"C:\Users\{user}\Documents\",
    who: Who::Session,
    loads: OFFICE_LOADS,
    life_s: (120, 7_200),
    steps: (3, 15),
    acts: &[
        (Act::File(DOC_FILES), 50),
        (Act::Site("contoso.sharepoint.com"), 15),
        (Act::Site("officecdn.microsoft.com"), 5),
        (Act::Load, 20),
    ],
    children: &[],
};

pub(super) static EXCEL: Profile = Profile {
    image: r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE",
    cmds: &[
        r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "C:\Users\{user}\Documents\{doc}.xlsx""#,
        r#""C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE" "#,
    ],
    cwd: r"C:\Users\{user}\Documents\",
    who: Who::Session,
    loads: OFFICE_LOADS,
    life_s: (120, 7_200),
    steps: (3, 15),
    acts: &[
        (Act::File(XLS_FILES), 50),
        (Act::Site("contoso.sharepoint.com"), 10),
        (Act::Load, 20),
    ],
    children: &[],
};

pub(super) static POWERPOINT: Profile = Profile {
    image: r"C:\Program Files\Microsoft Office\root\Office16\POWERPNT.EXE",
    cmds: &[
        r#""C:\Program Files\Microsoft Office\root\Office16\POWERPNT.EXE" "C:\Users\{user}\Documents\{doc}.pptx""#,
    ],
    cwd: r"C:\Users\{user}\Documents\",
    who: Who::Session,
    loads: OFFICE_LOADS,
    life_s: (300, 5_400),
    steps: (2, 10),
    acts: &[(Act::File(DOC_FILES), 50), (Act::Load, 20)],
    children: &[],
};

pub(super) static ACROBAT: Profile = Profile {
    image: r"C:\Program Files (x86)\Adobe\Acrobat Reader DC\Reader\AcroRd32.exe",
    cmds: &[
        r#""C:\Program Files (x86)\Adobe\Acrobat Reader DC\Reader\AcroRd32.exe" "C:\Users\{user}\Downloads\{doc}.pdf""#,
    ],
    cwd: r"C:\Users\{user}\Downloads\",
    who: Who::Session,
    loads: (30, 50),
    life_s: (60, 3_600),
    steps: (1, 5),
    acts: &[(Act::File(PDF_FILES), 50), (Act::Load, 20)],
    children: &[],
};

pub(super) static NOTEPAD: Profile = Profile {
    image: r"C:\Windows\System32\notepad.exe",
    cmds: &[r#""C:\Windows\system32\notepad.exe" C:\Users\{user}\Documents\{doc}.txt"#],
    cwd: r"C:\Users\{user}\Documents\",
    who: Who::Session,
    loads: (5, 10),
    life_s: (30, 3_600),
    steps: (0, 2),
    acts: &[(Act::File(TEXT_FILES), 1)],
    children: &[],
};

pub(super) static CMD: Profile = Profile {
    image: r"C:\Windows\System32\cmd.exe",
    cmds: &[r#""C:\Windows\system32\cmd.exe" "#],
    cwd: r"C:\Users\{user}\",
    who: Who::Session,
    loads: (2, 4),
    life_s: (30, 1_800),
    steps: (0, 1),
    acts: &[(Act::Load, 1)],
    children: &[(&CONHOST, 1, 1), (&IPCONFIG, 0, 1), (&PING, 0, 1)],
};

pub(super) static CONHOST: Profile = Profile {
    image: r"C:\Windows\System32\conhost.exe",
    cmds: &[r"\??\C:\Windows\system32\conhost.exe 0xffffffff -ForceV1"],
    cwd: r"C:\Windows\",
    who: Who::Parent,
    loads: (3, 6),
    life_s: (10, 600),
    steps: (0, 0),
    acts: &[],
    children: &[],
};

pub(super) static IPCONFIG: Profile = Profile {
    image: r"C:\Windows\System32\ipconfig.exe",
    cmds: &["ipconfig  /all", "ipconfig /flushdns"],
    cwd: r"C:\Users\{user}\",
    who: Who::Parent,
    loads: (2, 4),
    life_s: (1, 3),
    steps: (0, 0),
    acts: &[],
    children: &[],
};

pub(super) static PING: Profile = Profile {
    image: r"C:\Windows\System32\PING.EXE",
    cmds: &[
        "ping  FS01",
        "ping  DC01.contoso.local",
        "ping -n 1 8.8.8.8",
    ],
    cwd: r"C:\Users\{user}\",
    who: Who::Parent,
    loads: (2, 3),
    life_s: (2, 5),
    steps: (0, 0),
    acts: &[],
    children: &[],
};

pub(super) static POWERSHELL: Profile = Profile {
    image: r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    cmds: &[
        r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" "#,
        r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoExit -Command Import-Module ActiveDirectory"#,
    ],
    cwd: r"C:\Users\{user}\",
    who: Who::Session,
    loads: (25, 45),
    life_s: (60, 3_600),
    steps: (2, 8),
    acts: &[
        (Act::File(PS_FILES), 40),
        (Act::Internal(Target::Dc, Svc::Ldap), 20),
        (Act::Internal(Target::Fs, Svc::WinRm), 10),
        (Act::Load, 30),
    ],
    children: &[(&CONHOST, 1, 1)],
};

pub(super) static MSTSC: Profile = Profile {
    image: r"C:\Windows\System32\mstsc.exe",
    cmds: &[
        r#""C:\Windows\system32\mstsc.exe" /v:FS01"#,
        r#""C:\Windows\system32\mstsc.exe" /v:DC01"#,
    ],
    cwd: r"C:\Users\{user}\",
    who: Who::Session,
    loads: (30, 50),
    life_s: (300, 3_600),
    steps: (1, 2),
    acts: &[(Act::Internal(Target::Fs, Svc::Rdp), 1)],
    children: &[],
};

pub(super) static ONEDRIVE: Profile = Profile {
    image: r"C:\Users\{user}\AppData\Local\Microsoft\OneDrive\OneDrive.exe",
    cmds: &[
        r#""C:\Users\{user}\AppData\Local\Microsoft\OneDrive\OneDrive.exe" /background"#,
    ],
    cwd: r"C:\Users\{user}\AppData\Local\Microsoft\OneDrive\",
    who: Who::Session,
    loads: (30, 50),
    life_s: (14_400, 36_000),
    steps: (5, 30),
    acts: &[
        (Act::Site("oneclient.sfx.ms"), 20),
        (Act::Site("g.live.com"), 20),
        (Act::File(ONEDRIVE_FILES), 40),
    ],
    children: &[],
};

pub(super) static EXPLORER: Profile = Profile {
    image: r"C:\Windows\explorer.exe",
    cmds: &[r"C:\Windows\Explorer.EXE"],
    cwd: r"C:\Windows\system32\",
    who: Who::Session,
    loads: (60, 100),
    life_s: (28_800, 36_000),
    steps: (10, 40),
    acts: &[
        (Act::File(EXPLORER_FILES), 40),
        (Act::Internal(Target::Fs, Svc::Smb), 10),
        (Act::PipeConnect, 10),
        (Act::Load, 30),
    ],
    children: &[],
};
