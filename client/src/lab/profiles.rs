//! What each benign program looks like: image, command lines, who runs it, how many image
//! loads it makes after starting, how long it lives, and which events it emits afterwards.
//!
//! This is a flat table, one constant per program. A process's events always start with its
//! Sysmon 1 and its image loads, then follow the program's activity mix, so every image has a
//! typical event sequence that a sequence model can learn.

use super::topology::Svc;

/// Who a program runs as.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Who {
    /// The logged-on user of the session.
    Session,
    /// `NT AUTHORITY\SYSTEM`.
    System,
    /// `NT AUTHORITY\NETWORK SERVICE`.
    NetworkService,
    /// The parent process's user.
    Parent,
    /// The n-th service account (`svc-backup`, `svc-sql`, `svc-sccm`, `svc-web`, `svc-print`).
    Service(u16),
}

/// A server a program talks to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Target {
    Dc,
    Fs,
}

/// One kind of activity step.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Act {
    /// DNS lookup and one to three connections to a browsing destination.
    Browse,
    /// DNS lookup and a connection to a named background site.
    Site(&'static str),
    /// Connection to a service of an internal server, sometimes after a DNS lookup.
    Internal(Target, Svc),
    /// A file created from one of the templates.
    File(&'static [&'static str]),
    PipeCreate,
    PipeConnect,
    Load,
}

/// A benign program.
#[derive(Debug)]
pub(crate) struct Profile {
    pub image: &'static str,
    pub cmds: &'static [&'static str],
    pub cwd: &'static str,
    pub who: Who,
    pub loads: (u32, u32),
    /// Lifetime in seconds, drawn log-uniformly.
    pub life_s: (u32, u32),
    pub steps: (u32, u32),
    pub acts: &'static [(Act, u32)],
    /// Children: (program, least, most).
    pub children: &'static [(&'static Profile, u32, u32)],
}

/// The programs of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum P {
    Chrome,
    Edge,
    Outlook,
    Teams,
    Word,
    Excel,
    PowerPoint,
    Acrobat,
    Notepad,
    Cmd,
    PowerShell,
    Mstsc,
    OneDrive,
    Explorer,
    Userinit,
    SvchostShort,
    Taskhostw,
    MpCmdRun,
    WmiPrvSe,
    Dllhost,
    SearchProtocolHost,
    CompatTelRunner,
    MoUsoCoreWorker,
    BackupAgent,
    Sppsvc,
    RuntimeBroker,
    BackgroundTaskHost,
    CcmEval,
}

const OFFICE_LOADS: (u32, u32) = (40, 80);
const DOC_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Temp\~DF{hex4}.tmp",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Office\Recent\{doc}.LNK",
    r"C:\Users\{user}\Documents\{doc}.docx",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.MSO\{hex8}.tmp",
];
const XLS_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Temp\~DF{hex4}.tmp",
    r"C:\Users\{user}\Documents\{doc}.xlsx",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Excel\~ar{hex4}.xar",
];
const CHROME_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\Network\Cookies-journal",
    r"C:\Users\{user}\AppData\Local\Google\Chrome\User Data\Default\History-journal",
    r"C:\Users\{user}\Downloads\{doc}.pdf",
];
const EDGE_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Microsoft\Edge\User Data\Default\Cache\Cache_Data\f_{hex6}",
    r"C:\Users\{user}\AppData\Local\Microsoft\Edge\User Data\Default\History-journal",
];
const OUTLOOK_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Microsoft\Outlook\{user}@contoso.com.ost.tmp",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook\{hex8}\{doc}.pdf",
    r"C:\Users\{user}\AppData\Local\Temp\Outlook Logging\Outlook-{hex6}.etl",
];
const TEAMS_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Teams\Cache\f_{hex6}",
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Teams\IndexedDB\https_teams.microsoft.com_0.indexeddb.leveldb\{n4}.log",
];
const TEXT_FILES: &[&str] = &[r"C:\Users\{user}\Documents\{doc}.txt"];
const PDF_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\LocalLow\Adobe\Acrobat\DC\ConnectorIcons\icon-{hex6}.png",
    r"C:\Users\{user}\AppData\Local\Temp\acrord32_sbx\A9R{hex4}.tmp",
];
const PS_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Temp\__PSScriptPolicyTest_{hex8}.{hex4}.ps1",
    r"C:\Users\{user}\AppData\Local\Temp\__PSScriptPolicyTest_{hex8}.{hex4}.psm1",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\PowerShell\StartupProfileData-Interactive",
];
const ONEDRIVE_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Local\Microsoft\OneDrive\logs\Personal\SyncDiagnostics.log",
    r"C:\Users\{user}\OneDrive - Contoso\Documents\{doc}.docx",
];
const EXPLORER_FILES: &[&str] = &[
    r"C:\Users\{user}\AppData\Roaming\Microsoft\Windows\Recent\{doc}.lnk",
    r"C:\Users\{user}\AppData\Local\Microsoft\Windows\Explorer\thumbcache_{hex4}.db",
    r"C:\Users\{user}\Downloads\{doc}.zip",
];
const SVC_FILES: &[&str] = &[
    r"C:\Windows\Prefetch\{exe}-{hex8}.pf",
    r"C:\Windows\SoftwareDistribution\Download\{hex8}\{hex6}.cab",
    r"C:\Windows\ServiceProfiles\LocalService\AppData\Local\Temp\TMP{hex8}",
];
const TASK_FILES: &[&str] =
    &[r"C:\Windows\System32\Tasks\Microsoft\Windows\{exe}-{hex4}.job"];
const DEF_FILES: &[&str] = &[
    r"C:\ProgramData\Microsoft\Windows Defender\Definition Updates\{{guid}}\mpasdlta.vdm",
    r"C:\ProgramData\Microsoft\Windows Defender\Scans\mpcache-{hex8}.bin",
];
const COMPAT_FILES: &[&str] = &[
    r"C:\Windows\appcompat\appraiser\APPRAISER_TelemetryBaseline_{hex4}.bin",
    r"C:\Windows\appcompat\Programs\Amcache.hve.tmp",
];
const BACKUP_FILES: &[&str] = &[
    r"D:\Backup\{host}\{doc}_{n4}.vbk",
    r"D:\Backup\Shared\{doc}_{n4}.vib",
    r"C:\ProgramData\BackupAgent\Logs\job-{n4}.log",
];
const CCM_FILES: &[&str] = &[
    r"C:\Windows\CCM\Logs\CcmEval.log",
    r"C:\Windows\ccmcache\{hex4}\{hex8}.xml",
];

/// The program table.
pub(crate) fn profile(p: P) -> &'static Profile {
    match p {
        P::Chrome => &CHROME,
        P::Edge => &EDGE,
        P::Outlook => &OUTLOOK,
        P::Teams => &TEAMS,
        P::Word => &WORD,
        P::Excel => &EXCEL,
        P::PowerPoint => &POWERPOINT,
        P::Acrobat => &ACROBAT,
        P::Notepad => &NOTEPAD,
        P::Cmd => &CMD,
        P::PowerShell => &POWERSHELL,
        P::Mstsc => &MSTSC,
        P::OneDrive => &ONEDRIVE,
        P::Explorer => &EXPLORER,
        P::Userinit => &USERINIT,
        P::SvchostShort => &SVCHOST_SHORT,
        P::Taskhostw => &TASKHOSTW,
        P::MpCmdRun => &MPCMDRUN,
        P::WmiPrvSe => &WMIPRVSE,
        P::Dllhost => &DLLHOST,
        P::SearchProtocolHost => &SEARCH_PROTOCOL_HOST,
        P::CompatTelRunner => &COMPAT_TEL_RUNNER,
        P::MoUsoCoreWorker => &MOUSO,
        P::BackupAgent => &BACKUP_AGENT,
        P::Sppsvc => &SPPSVC,
        P::RuntimeBroker => &RUNTIME_BROKER,
        P::BackgroundTaskHost => &BACKGROUND_TASK_HOST,
        P::CcmEval => &CCM_EVAL,
    }
}

static CHROME: Profile = Profile {
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

static CHROME_CHILD: Profile = Profile {
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

static EDGE: Profile = Profile {
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

static OUTLOOK: Profile = Profile {
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

static TEAMS: Profile = Profile {
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

static WORD: Profile = Profile {
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

static EXCEL: Profile = Profile {
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

static POWERPOINT: Profile = Profile {
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

static ACROBAT: Profile = Profile {
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

static NOTEPAD: Profile = Profile {
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

static CMD: Profile = Profile {
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

static CONHOST: Profile = Profile {
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

static IPCONFIG: Profile = Profile {
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

static PING: Profile = Profile {
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

static POWERSHELL: Profile = Profile {
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

static MSTSC: Profile = Profile {
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

static ONEDRIVE: Profile = Profile {
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

static EXPLORER: Profile = Profile {
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

static USERINIT: Profile = Profile {
    image: r"C:\Windows\System32\userinit.exe",
    cmds: &[r"C:\Windows\system32\userinit.exe"],
    cwd: r"C:\Windows\system32\",
    who: Who::Session,
    loads: (5, 10),
    life_s: (5, 30),
    steps: (0, 0),
    acts: &[],
    children: &[],
};

static SVCHOST_SHORT: Profile = Profile {
    image: r"C:\Windows\System32\svchost.exe",
    cmds: &[
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s BITS",
        r"C:\Windows\system32\svchost.exe -k wsappx -p -s AppXSvc",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s wuauserv",
        r"C:\Windows\system32\svchost.exe -k LocalServiceNetworkRestricted -p -s lmhosts",
        r"C:\Windows\system32\svchost.exe -k netsvcs -p -s gpsvc",
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (10, 25),
    life_s: (30, 3_600),
    steps: (0, 6),
    acts: &[
        (Act::Site("ctldl.windowsupdate.com"), 25),
        (Act::Site("fe3cr.delivery.mp.microsoft.com"), 15),
        (Act::Internal(Target::Dc, Svc::Ldap), 10),
        (Act::File(SVC_FILES), 30),
        (Act::PipeCreate, 10),
        (Act::Load, 10),
    ],
    children: &[],
};

static TASKHOSTW: Profile = Profile {
    image: r"C:\Windows\System32\taskhostw.exe",
    cmds: &[
        "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}",
        "taskhostw.exe -RegisterDevice -ProtectionStateChanged -FreeNetworkOnly",
        "taskhostw.exe SYSTEM",
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (8, 15),
    life_s: (5, 600),
    steps: (0, 3),
    acts: &[(Act::File(TASK_FILES), 1), (Act::Load, 1)],
    children: &[],
};

static MPCMDRUN: Profile = Profile {
    image: r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MpCmdRun.exe",
    cmds: &[
        r#""C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MpCmdRun.exe" SignatureUpdate -ScheduleJob -RestrictPrivileges -Reinvoke"#,
        r#""C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.24010.12-0\MpCmdRun.exe" -IdleTask -TaskName WdCacheMaintenance"#,
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (10, 20),
    life_s: (10, 300),
    steps: (1, 4),
    acts: &[
        (Act::Site("definitionupdates.microsoft.com"), 60),
        (Act::File(DEF_FILES), 40),
    ],
    children: &[],
};

static WMIPRVSE: Profile = Profile {
    image: r"C:\Windows\System32\wbem\WmiPrvSE.exe",
    cmds: &[r"C:\Windows\system32\wbem\wmiprvse.exe -secured -Embedding"],
    cwd: r"C:\Windows\system32\",
    who: Who::NetworkService,
    loads: (15, 30),
    life_s: (60, 3_600),
    steps: (0, 3),
    acts: &[(Act::PipeConnect, 1), (Act::Load, 1)],
    children: &[],
};

static DLLHOST: Profile = Profile {
    image: r"C:\Windows\System32\dllhost.exe",
    cmds: &[
        r"C:\Windows\system32\DllHost.exe /Processid:{3EB3C877-1F16-487C-9050-104DBCD66683}",
        r"C:\Windows\system32\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}",
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (5, 15),
    life_s: (2, 120),
    steps: (0, 2),
    acts: &[(Act::Load, 1)],
    children: &[],
};

static SEARCH_PROTOCOL_HOST: Profile = Profile {
    image: r"C:\Windows\System32\SearchProtocolHost.exe",
    cmds: &[
        r#""C:\Windows\system32\SearchProtocolHost.exe" Global\UsGthrFltPipeMssGthrPipe{n} Global\UsGthrCtrlFltPipeMssGthrPipe{n} 1 -2147483646 "Software\Microsoft\Windows Search" "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)" "C:\ProgramData\Microsoft\Search\Data\Temp\usgthrsvc" "DownLevelDaemon" "#,
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (10, 20),
    life_s: (10, 600),
    steps: (0, 3),
    acts: &[(Act::PipeConnect, 50), (Act::Load, 50)],
    children: &[],
};

static COMPAT_TEL_RUNNER: Profile = Profile {
    image: r"C:\Windows\System32\CompatTelRunner.exe",
    cmds: &[r"C:\Windows\system32\compattelrunner.exe -maintenance"],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (15, 25),
    life_s: (30, 900),
    steps: (1, 6),
    acts: &[
        (Act::Site("v10.events.data.microsoft.com"), 40),
        (Act::File(COMPAT_FILES), 60),
    ],
    children: &[],
};

static MOUSO: Profile = Profile {
    image: r"C:\Windows\uus\AMD64\MoUsoCoreWorker.exe",
    cmds: &[r"C:\Windows\uus\AMD64\MoUsoCoreWorker.exe -Embedding"],
    cwd: r"C:\Windows\system32\",
    who: Who::System,
    loads: (20, 30),
    life_s: (60, 1_800),
    steps: (1, 4),
    acts: &[
        (Act::Site("slscr.update.microsoft.com"), 60),
        (Act::Site("fe3cr.delivery.mp.microsoft.com"), 40),
    ],
    children: &[],
};

static BACKUP_AGENT: Profile = Profile {
    image: r"C:\Program Files\BackupAgent\bkagent.exe",
    cmds: &[
        r#""C:\Program Files\BackupAgent\bkagent.exe" --job nightly --target D:\Backup"#,
    ],
    cwd: r"C:\Program Files\BackupAgent\",
    who: Who::Service(0),
    loads: (20, 30),
    life_s: (1_800, 7_200),
    steps: (40, 200),
    acts: &[
        (Act::File(BACKUP_FILES), 80),
        (Act::Internal(Target::Dc, Svc::Ldap), 5),
        (Act::Load, 15),
    ],
    children: &[],
};

static SPPSVC: Profile = Profile {
    image: r"C:\Windows\System32\sppsvc.exe",
    cmds: &[r"C:\Windows\system32\sppsvc.exe"],
    cwd: r"C:\Windows\system32\",
    who: Who::NetworkService,
    loads: (10, 20),
    life_s: (30, 300),
    steps: (0, 2),
    acts: &[(Act::Load, 1)],
    children: &[],
};

static RUNTIME_BROKER: Profile = Profile {
    image: r"C:\Windows\System32\RuntimeBroker.exe",
    cmds: &[r"C:\Windows\System32\RuntimeBroker.exe -Embedding"],
    cwd: r"C:\Windows\system32\",
    who: Who::Session,
    loads: (10, 20),
    life_s: (60, 7_200),
    steps: (0, 3),
    acts: &[(Act::PipeConnect, 1), (Act::Load, 1)],
    children: &[],
};

static BACKGROUND_TASK_HOST: Profile = Profile {
    image: r"C:\Windows\System32\backgroundTaskHost.exe",
    cmds: &[
        r#""C:\Windows\system32\backgroundTaskHost.exe" -ServerName:BackgroundTaskHost.WebAccountBackgroundTask"#,
    ],
    cwd: r"C:\Windows\system32\",
    who: Who::Session,
    loads: (10, 25),
    life_s: (5, 120),
    steps: (0, 3),
    acts: &[(Act::Site("login.microsoftonline.com"), 1)],
    children: &[],
};

static CCM_EVAL: Profile = Profile {
    image: r"C:\Windows\CCM\CcmEval.exe",
    cmds: &[r"C:\Windows\CCM\CcmEval.exe"],
    cwd: r"C:\Windows\CCM\",
    who: Who::System,
    loads: (15, 25),
    life_s: (30, 300),
    steps: (1, 4),
    acts: &[
        (Act::Internal(Target::Fs, Svc::Http), 50),
        (Act::File(CCM_FILES), 50),
    ],
    children: &[],
};

/// Asserts a program and its children are well formed (tests of the profile tables).
#[cfg(test)]
pub(crate) fn check(prof: &Profile) {
    let name = prof.image;
    assert!(!prof.cmds.is_empty(), "{name}");
    assert!(prof.loads.0 <= prof.loads.1, "{name}");
    assert!(
        prof.life_s.0 <= prof.life_s.1 && prof.life_s.0 > 0,
        "{name}"
    );
    assert!(prof.steps.0 <= prof.steps.1, "{name}");
    assert!(prof.steps.1 == 0 || !prof.acts.is_empty(), "{name}");
    assert!(prof.image.starts_with(r"C:\"), "{name}");
    for &(child, lo, hi) in prof.children {
        assert!(lo <= hi, "{name}");
        check(child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [P; 28] = [
        P::Chrome,
        P::Edge,
        P::Outlook,
        P::Teams,
        P::Word,
        P::Excel,
        P::PowerPoint,
        P::Acrobat,
        P::Notepad,
        P::Cmd,
        P::PowerShell,
        P::Mstsc,
        P::OneDrive,
        P::Explorer,
        P::Userinit,
        P::SvchostShort,
        P::Taskhostw,
        P::MpCmdRun,
        P::WmiPrvSe,
        P::Dllhost,
        P::SearchProtocolHost,
        P::CompatTelRunner,
        P::MoUsoCoreWorker,
        P::BackupAgent,
        P::Sppsvc,
        P::RuntimeBroker,
        P::BackgroundTaskHost,
        P::CcmEval,
    ];

    #[test]
    fn every_profile_is_well_formed() {
        for p in ALL {
            check(profile(p));
        }
    }
}
