//! The programs Windows and its agents run: logon, service hosts, Defender, WMI,
//! indexing, telemetry, updates, backup, licensing and configuration management.

use super::*;
use crate::topology::Svc;

pub(super) static USERINIT: Profile = Profile {
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

pub(super) static SVCHOST_SHORT: Profile = Profile {
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

pub(super) static TASKHOSTW: Profile = Profile {
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

pub(super) static MPCMDRUN: Profile = Profile {
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

pub(super) static WMIPRVSE: Profile = Profile {
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

pub(super) static DLLHOST: Profile = Profile {
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

pub(super) static SEARCH_PROTOCOL_HOST: Profile = Profile {
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

pub(super) static COMPAT_TEL_RUNNER: Profile = Profile {
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

pub(super) static MOUSO: Profile = Profile {
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

pub(super) static BACKUP_AGENT: Profile = Profile {
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

pub(super) static SPPSVC: Profile = Profile {
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

pub(super) static RUNTIME_BROKER: Profile = Profile {
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

pub(super) static BACKGROUND_TASK_HOST: Profile = Profile {
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

pub(super) static CCM_EVAL: Profile = Profile {
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
