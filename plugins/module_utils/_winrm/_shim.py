# -*- coding: utf-8 -*-
# Copyright: (c) 2026, wsfc.rolling developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PowerShell as RPC: the fixed shim text and the request/response encoding.

How one round trip works:

1. The runner starts ``powershell.exe ... -EncodedCommand <BOOTSTRAP>``. The bootstrap is tiny and
   constant, so the command line stays far below the 32767-character CreateProcess limit however
   large the shim grows.
2. It writes ``SHIM + REQUEST_SEPARATOR + base64(request JSON)`` to the process's stdin (WS-Man
   Send). The bootstrap turns the part before the separator into a script block and passes the
   part after it as a *string argument*. User values only ever live inside that base64 string: no
   user text is part of PowerShell source, whatever quotes, ``$(...)`` or ``'@`` it holds.
3. The shim decodes the request, runs each operation, projects the results to plain strings and
   numbers itself (Windows PowerShell 5.1 ``ConvertTo-Json`` would write enums as integers, dates as
   ``\\/Date(ms)\\/``, unwrap one-element arrays and cut at depth 2) and prints one line:
   ``RESULT_MARKER + base64(UTF-8 JSON)``. Base64 keeps the output immune to the console code page.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible_collections.wsfc.rolling.plugins.module_utils._errors import RemoteCommandError

PROTOCOL = 1
# Operations that may simply be sent again when the connection dropped before their answer came:
# reads, and 'wu.start', which finds the job it already started by its id. Everything else changes
# the cluster; after a drop the caller re-reads the state before deciding.
SAFE_TO_REPEAT = frozenset((
    'cluster.get', 'cluster.quorum', 'cluster.nodes', 'cluster.groups', 'cluster.csv', 'cluster.vm_move_policy',
    'storage.pools', 'storage.virtualdisks', 'storage.jobs', 'cau.role', 'cau.run_state', 'cau.scan',
    'lock.read', 'node.capacity', 'node.boot', 'wu.start', 'wu.status', 'wu.remove', 'node.config', 'vm.list',
    'node.media',
))
# Operations whose cmdlets reach other nodes and so need a delegated credential from a WinRM
# session (windows-facts.md 1.1), with the cmdlet named in the error when there is none.
NEEDS_DELEGATION = {
    'cluster.node.remove': 'Remove-ClusterNode', 'cluster.node.add': 'Add-ClusterNode',
    'cluster.group.move': 'Move-ClusterVirtualMachineRole',
}
REQUEST_SEPARATOR = '#wsfc-rpc-request#'
RESULT_MARKER = 'WSFC-RPC-RESULT:'

# Started with -EncodedCommand; reads the shim and the request from stdin ($input).
BOOTSTRAP = r"""# wsfc.rolling rpc bootstrap 1
$ErrorActionPreference = 'Stop'
$wsfcStdin = [string]::Join("`n", @($input))
$wsfcParts = $wsfcStdin.Split([string[]]@('#wsfc-rpc-request#'), 2, [System.StringSplitOptions]::None)
if ($wsfcParts.Count -ne 2) {
    [Console]::Error.WriteLine('wsfc.rolling bootstrap: no request separator on stdin')
    exit 2
}
$wsfcShim = [scriptblock]::Create($wsfcParts[0])
& $wsfcShim -EncodedRequest $wsfcParts[1].Trim() -ShimText $wsfcParts[0]
exit 0
"""

# The one PowerShell text that runs cluster operations. ASCII only. Each entry of $WsfcOperations
# is one operation; it receives the request's params object and returns one value (lists are
# returned with the unary comma so that the pipeline does not unroll them).
SHIM = r"""# wsfc.rolling rpc shim 1
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$EncodedRequest,
    [string]$ShimText = ''
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

# MSFT_VirtualDisk / MSFT_StoragePool HealthStatus and OperationalStatus, MSFT_StorageJob JobState.
# Raw CIM values are read and mapped here because the formatted properties depend on type data.
$WsfcHealth = @{ 0 = 'Healthy'; 1 = 'Warning'; 2 = 'Unhealthy'; 5 = 'Unknown' }
$WsfcOperational = @{
    0 = 'Unknown'; 1 = 'Other'; 2 = 'OK'; 3 = 'Degraded'; 4 = 'Stressed'; 5 = 'Predictive Failure'
    6 = 'Error'; 7 = 'Non-Recoverable Error'; 8 = 'Starting'; 9 = 'Stopping'; 10 = 'Stopped'
    11 = 'In Service'; 12 = 'No Contact'; 13 = 'Lost Communication'; 14 = 'Aborted'; 15 = 'Dormant'
    16 = 'Supporting Entity in Error'; 17 = 'Completed'; 18 = 'Power Mode'; 19 = 'Relocating'
    53250 = 'Detached'; 53251 = 'Incomplete'
}
$WsfcJobState = @{
    2 = 'New'; 3 = 'Starting'; 4 = 'Running'; 5 = 'Suspended'; 6 = 'ShuttingDown'; 7 = 'Completed'
    8 = 'Terminated'; 9 = 'Killed'; 10 = 'Exception'; 11 = 'Service'; 12 = 'QueryPending'
}

function ConvertTo-WsfcText($Value) {
    if ($null -eq $Value) {
        return $null
    }
    return $Value.ToString()
}

function ConvertTo-WsfcDate($Value) {
    if ($null -eq $Value) {
        return $null
    }
    return ([datetime]$Value).ToUniversalTime().ToString('o')
}

function Get-WsfcCim($Object, [string]$Name) {
    $property = $Object.psBase.CimInstanceProperties[$Name]
    if ($null -eq $property) {
        return $null
    }
    return $property.Value
}

function ConvertTo-WsfcCode($Table, $Value) {
    if ($null -eq $Value) {
        return $null
    }
    $key = [int]$Value
    if ($Table.ContainsKey($key)) {
        return $Table[$key]
    }
    return [string]$key
}

function Get-WsfcParam($Params, [string]$Name, $Default) {
    if ($null -ne $Params -and $Params.PSObject.Properties.Name -contains $Name) {
        return $Params.$Name
    }
    return $Default
}

function Get-WsfcNativeCode($Exception) {
    $current = $Exception
    while ($null -ne $current) {
        if ($current -is [System.ComponentModel.Win32Exception]) {
            return $current.NativeErrorCode
        }
        $current = $current.InnerException
    }
    return $null
}

function ConvertTo-WsfcNode($Node) {
    [ordered]@{
        Name = [string]$Node.Name
        Id = [string]$Node.Id
        State = ConvertTo-WsfcText $Node.State
        DrainStatus = ConvertTo-WsfcText $Node.DrainStatus
        StatusInformation = ConvertTo-WsfcText $Node.StatusInformation
        NodeWeight = [int]$Node.NodeWeight
        DynamicWeight = [int]$Node.DynamicWeight
        MajorVersion = [int]$Node.MajorVersion
        MinorVersion = [int]$Node.MinorVersion
        BuildNumber = [int]$Node.BuildNumber
        NodeHighestVersion = [long]$Node.NodeHighestVersion
        NodeLowestVersion = [long]$Node.NodeLowestVersion
        FaultDomain = @($Node.FaultDomain | ForEach-Object { [string]$_ })
        Model = [string]$Node.Model
        Manufacturer = [string]$Node.Manufacturer
        SerialNumber = [string]$Node.SerialNumber
    }
}

function ConvertTo-WsfcGroup($Group) {
    $owners = @()
    try {
        $owners = @((Get-ClusterOwnerNode -Group $Group.Name).OwnerNodes | ForEach-Object { [string]$_.Name })
    }
    catch {
        $owners = @()
    }
    [ordered]@{
        Name = [string]$Group.Name
        Id = [string]$Group.Id
        GroupType = ConvertTo-WsfcText $Group.GroupType
        GroupTypeValue = [int]$Group.GroupType
        OwnerNode = [string]$Group.OwnerNode.Name
        State = ConvertTo-WsfcText $Group.State
        Priority = [int]$Group.Priority
        IsCoreGroup = [bool]$Group.IsCoreGroup
        AutoFailbackType = [int]$Group.AutoFailbackType
        PreferredOwners = $owners
    }
}

function Get-WsfcJobId($Params) {
    # Job ids name files and scheduled tasks on the node: letters, digits and dashes only.
    $id = [string]$Params.id
    if ($id -notmatch '^[A-Za-z0-9-]{1,64}$') {
        throw "Invalid job id '$id'."
    }
    return $id
}

function Get-WsfcUpdateJob([string]$Id) {
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    $statusPath = Join-Path $base "wu-$Id.json"
    $task = Get-ScheduledTask -TaskName "wsfc.rolling Windows Update $Id" -ErrorAction SilentlyContinue
    if (-not (Test-Path -Path $statusPath)) {
        if ($null -eq $task) {
            throw [System.Management.Automation.ItemNotFoundException]::new("No Windows Update job '$Id' on this node.")
        }
        return [ordered]@{ Id = $Id; TaskState = ConvertTo-WsfcText $task.State; Phase = 'Starting'; Progress = 0; Updates = @(); RebootRequired = $false }
    }
    $status = Get-Content -Raw -Path $statusPath | ConvertFrom-Json
    [ordered]@{
        Id = $Id
        TaskState = if ($null -ne $task) { ConvertTo-WsfcText $task.State } else { 'Removed' }
        Phase = [string]$status.Phase
        Progress = [int]$status.Progress
        Updates = @($status.Updates)
        RebootRequired = [bool]$status.RebootRequired
        Started = [string]$status.Started
        Finished = [string]$status.Finished
        Error = [string]$status.Error
    }
}

function Get-WsfcLockResource {
    # The lock is a private property of the core network name resource ("Cluster Name"), which
    # the cluster database replicates to every node. GroupType 1 is the core cluster group.
    $resource = Get-ClusterResource |
        Where-Object { [int]$_.OwnerGroup.GroupType -eq 1 -and [string]$_.ResourceType.Name -eq 'Network Name' } |
        Select-Object -First 1
    if ($null -eq $resource) {
        throw 'The core cluster name resource was not found.'
    }
    return $resource
}

function Get-WsfcLockValue($Resource) {
    $parameter = Get-ClusterParameter -InputObject $Resource -Name 'WsfcRollingLock' -ErrorAction SilentlyContinue
    if ($null -eq $parameter -or $null -eq $parameter.Value) {
        return $null
    }
    return [string]$parameter.Value
}

$WsfcOperations = @{
    'cluster.get' = {
        param($p)
        $c = Get-Cluster
        [ordered]@{
            Name = [string]$c.Name
            Id = [string]$c.Id
            Domain = [string]$c.Domain
            ClusterFunctionalLevel = [int]$c.ClusterFunctionalLevel
            ClusterUpgradeVersion = [int]$c.ClusterUpgradeVersion
            S2DEnabled = [int]$c.S2DEnabled
            DynamicQuorum = [int]$c.DynamicQuorum
            WitnessDynamicWeight = [int]$c.WitnessDynamicWeight
            ComputerName = [string]$env:COMPUTERNAME
        }
    }
    'cluster.quorum' = {
        param($p)
        $q = Get-ClusterQuorum
        $resource = $q.QuorumResource
        $resourceType = $null
        $resourceState = $null
        if ($null -ne $resource) {
            $resourceType = [string]$resource.ResourceType.Name
            $resourceState = ConvertTo-WsfcText $resource.State
        }
        [ordered]@{
            QuorumType = ConvertTo-WsfcText $q.QuorumType
            QuorumResource = [string]$resource.Name
            QuorumResourceType = $resourceType
            QuorumResourceState = $resourceState
        }
    }
    'cluster.nodes' = {
        param($p)
        $names = @(Get-WsfcParam $p 'names' @())
        if ($names.Count -gt 0) {
            $nodes = @(Get-ClusterNode -Name $names)
        }
        else {
            $nodes = @(Get-ClusterNode)
        }
        , @($nodes | ForEach-Object { ConvertTo-WsfcNode $_ })
    }
    'cluster.groups' = {
        param($p)
        , @(Get-ClusterGroup | ForEach-Object { ConvertTo-WsfcGroup $_ })
    }
    'cluster.csv' = {
        param($p)
        , @(Get-ClusterSharedVolume | ForEach-Object {
                $info = @($_.SharedVolumeInfo)
                $path = $null
                if ($info.Count -gt 0) {
                    $path = [string]$info[0].FriendlyVolumeName
                }
                [ordered]@{
                    Name = [string]$_.Name
                    Id = [string]$_.Id
                    OwnerNode = [string]$_.OwnerNode.Name
                    State = ConvertTo-WsfcText $_.State
                    FriendlyVolumeName = $path
                }
            })
    }
    'storage.pools' = {
        param($p)
        , @(Get-StoragePool -IsPrimordial $false | ForEach-Object {
                [ordered]@{
                    FriendlyName = [string]$_.FriendlyName
                    Version = ConvertTo-WsfcText $_.Version
                    HealthStatus = ConvertTo-WsfcCode $WsfcHealth (Get-WsfcCim $_ 'HealthStatus')
                    OperationalStatus = @(Get-WsfcCim $_ 'OperationalStatus' | ForEach-Object { ConvertTo-WsfcCode $WsfcOperational $_ })
                    IsReadOnly = [bool]$_.IsReadOnly
                    Size = [long]$_.Size
                    AllocatedSize = [long]$_.AllocatedSize
                }
            })
    }
    'storage.virtualdisks' = {
        param($p)
        , @(Get-VirtualDisk | ForEach-Object {
                [ordered]@{
                    FriendlyName = [string]$_.FriendlyName
                    HealthStatus = ConvertTo-WsfcCode $WsfcHealth (Get-WsfcCim $_ 'HealthStatus')
                    OperationalStatus = @(Get-WsfcCim $_ 'OperationalStatus' | ForEach-Object { ConvertTo-WsfcCode $WsfcOperational $_ })
                    ResiliencySettingName = [string]$_.ResiliencySettingName
                    Size = [long]$_.Size
                    FootprintOnPool = [long]$_.FootprintOnPool
                }
            })
    }
    'storage.jobs' = {
        param($p)
        , @(Get-StorageJob | ForEach-Object {
                [ordered]@{
                    Name = [string]$_.Name
                    JobState = ConvertTo-WsfcCode $WsfcJobState (Get-WsfcCim $_ 'JobState')
                    PercentComplete = [int]$_.PercentComplete
                    BytesProcessed = [long]$_.BytesProcessed
                    BytesTotal = [long]$_.BytesTotal
                    IsBackgroundTask = [bool]$_.IsBackgroundTask
                    ElapsedTime = ConvertTo-WsfcText $_.ElapsedTime
                }
            })
    }
    'cluster.node.suspend' = {
        param($p)
        $name = [string]$p.name
        $arguments = @{ Name = $name; Confirm = $false }
        if ([bool](Get-WsfcParam $p 'drain' $true)) {
            $arguments.Drain = $true
        }
        if ([bool](Get-WsfcParam $p 'force_drain' $false)) {
            $arguments.ForceDrain = $true
        }
        # Without -Wait the cmdlet returns while the drain runs (Suspend-ClusterNode docs); the
        # controller polls DrainStatus instead of holding one WinRM call open.
        [void](Suspend-ClusterNode @arguments)
        ConvertTo-WsfcNode (Get-ClusterNode -Name $name)
    }
    'cluster.node.resume' = {
        param($p)
        $name = [string]$p.name
        [void](Resume-ClusterNode -Name $name -Failback ([string]$p.failback))
        ConvertTo-WsfcNode (Get-ClusterNode -Name $name)
    }
    'cluster.vm_move_policy' = {
        param($p)
        $threshold = $null
        try {
            $threshold = [int](Get-ClusterResourceType -Name 'Virtual Machine' | Get-ClusterParameter -Name MoveTypeThreshold).Value
        }
        catch {
            $threshold = $null
        }
        [ordered]@{ MoveTypeThreshold = $threshold }
    }
    'node.capacity' = {
        param($p)
        $cs = Get-CimInstance -ClassName Win32_ComputerSystem
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $vms = @()
        if ($null -ne (Get-Command -Name Get-VM -ErrorAction SilentlyContinue)) {
            $vms = @(Get-VM | ForEach-Object {
                    [ordered]@{ Name = [string]$_.Name; MemoryAssignedMB = [long]($_.MemoryAssigned / 1048576); State = ConvertTo-WsfcText $_.State }
                })
        }
        [ordered]@{
            ComputerName = [string]$env:COMPUTERNAME
            TotalMemoryMB = [long]($cs.TotalPhysicalMemory / 1048576)
            FreeMemoryMB = [long]($os.FreePhysicalMemory / 1024)
            VMs = $vms
        }
    }
    'node.boot' = {
        param($p)
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $version = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion'
        $pending = (Test-Path -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired') -or
            (Test-Path -Path 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending')
        $service = Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
        [ordered]@{
            ComputerName = [string]$env:COMPUTERNAME
            LastBootUpTime = ConvertTo-WsfcDate $os.LastBootUpTime
            Now = ConvertTo-WsfcDate (Get-Date)
            Caption = [string]$os.Caption
            BuildNumber = [int]$os.BuildNumber
            UBR = [int]$version.UBR
            ClusterService = ConvertTo-WsfcText $service.Status
            RebootPending = [bool]$pending
        }
    }
    'node.restart' = {
        param($p)
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        # A delayed restart lets this call return before WinRM goes down. p:2:17 = planned,
        # operating system hot fix.
        & shutdown.exe /r /t 5 /d p:2:17 /c 'wsfc.rolling: restart for updates'
        if ($LASTEXITCODE -ne 0) {
            throw "shutdown.exe failed with exit code $LASTEXITCODE"
        }
        [ordered]@{ LastBootUpTime = ConvertTo-WsfcDate $os.LastBootUpTime; RestartScheduled = $true }
    }
    'wu.start' = {
        param($p)
        $id = Get-WsfcJobId $p
        $base = Join-Path $env:ProgramData 'wsfc.rolling'
        if ([bool]$p.adopt) {
            # An install of ours still running (its controller died): follow it rather than start a
            # second Windows Update session next to it.
            $running = @(Get-ScheduledTask -TaskName 'wsfc.rolling Windows Update wsfc-install-*' -ErrorAction SilentlyContinue |
                    Where-Object { [string]$_.State -eq 'Running' }) | Select-Object -First 1
            if ($null -ne $running) {
                $id = ([string]$running.TaskName).Substring('wsfc.rolling Windows Update '.Length)
            }
        }
        $statusPath = Join-Path $base "wu-$id.json"
        if (-not (Test-Path -Path $statusPath)) {
            [void](New-Item -ItemType Directory -Path $base -Force)
            $scriptPath = Join-Path $base 'wu-task.ps1'
            Set-Content -Path $scriptPath -Value ([string]$p.task_script) -Encoding UTF8
            $request = [ordered]@{ mode = [string]$p.mode; categories = @($p.categories); accept = @($p.accept); reject = @($p.reject) }
            Set-Content -Path (Join-Path $base "wu-$id.request.json") -Value (ConvertTo-Json -InputObject $request -Depth 4) -Encoding UTF8
            $taskName = "wsfc.rolling Windows Update $id"
            $taskArguments = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$scriptPath`" -Id $id"
            $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument $taskArguments
            $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
            [void](Register-ScheduledTask -TaskName $taskName -Action $action -Principal $principal -Force)
            Start-ScheduledTask -TaskName $taskName
            Start-Sleep -Seconds 1
        }
        Get-WsfcUpdateJob $id
    }
    'wu.status' = {
        param($p)
        Get-WsfcUpdateJob ([string]$p.id)
    }
    'wu.remove' = {
        param($p)
        # Once finished and read, the task and its request go; the status file stays as a record.
        $id = Get-WsfcJobId $p
        Unregister-ScheduledTask -TaskName "wsfc.rolling Windows Update $id" -Confirm:$false -ErrorAction SilentlyContinue
        Remove-Item -Path (Join-Path (Join-Path $env:ProgramData 'wsfc.rolling') "wu-$id.request.json") -ErrorAction SilentlyContinue
        [ordered]@{ Id = $id; Removed = $true }
    }
    'lock.read' = {
        param($p)
        [ordered]@{ Value = Get-WsfcLockValue (Get-WsfcLockResource); Now = ConvertTo-WsfcDate (Get-Date) }
    }
    'lock.cas' = {
        param($p)
        # Compare and set the lock property; the decision logic lives on the controller.
        $resource = Get-WsfcLockResource
        $current = Get-WsfcLockValue $resource
        $expect = Get-WsfcParam $p 'expect' $null
        $value = Get-WsfcParam $p 'value' $null
        $swapped = $false
        if ($current -eq $expect) {
            if ($null -eq $value) {
                if ($null -ne $current) {
                    Set-ClusterParameter -InputObject $resource -Name 'WsfcRollingLock' -Delete
                }
            }
            elseif ($null -eq $current) {
                Set-ClusterParameter -InputObject $resource -Name 'WsfcRollingLock' -Value ([string]$value) -Create
            }
            else {
                Set-ClusterParameter -InputObject $resource -Name 'WsfcRollingLock' -Value ([string]$value)
            }
            $swapped = $true
            $current = $value
        }
        [ordered]@{ Swapped = $swapped; Value = $current; Now = ConvertTo-WsfcDate (Get-Date) }
    }
    'cau.run_state' = {
        param($p)
        if ($null -eq (Get-Command -Name Get-CauRun -ErrorAction SilentlyContinue)) {
            return [ordered]@{ RunState = 'NotInstalled'; RunId = $null; CurrentOrchestrator = $null }
        }
        $output = @(Get-CauRun -ClusterName (Get-Cluster).Name -WarningAction SilentlyContinue)
        $run = $null
        if ($output.Count -gt 1) {
            $run = $output[1]
        }
        [ordered]@{
            RunState = ConvertTo-WsfcText $output[0]
            RunId = [string]$run.RunId
            CurrentOrchestrator = [string]$run.CurrentOrchestrator
        }
    }
    'cau.scan' = {
        param($p)
        $scan = @{ ClusterName = (Get-Cluster).Name; CauPluginName = @([string]$p.plugin) }
        $pluginArguments = Get-WsfcParam $p 'plugin_arguments' $null
        if ($null -ne $pluginArguments) {
            $table = @{}
            foreach ($property in $pluginArguments.PSObject.Properties) {
                $table[$property.Name] = [string]$property.Value
            }
            $scan.CauPluginArguments = @($table)
        }
        $user = Get-WsfcParam $p 'user' $null
        if ($null -ne $user) {
            $secret = ConvertTo-SecureString -String ([string]$p.password) -AsPlainText -Force
            $scan.Credential = New-Object System.Management.Automation.PSCredential -ArgumentList ([string]$user), $secret
        }
        # Rows without NodeName are not update entries (as Windows Admin Center filters them).
        , @(Invoke-CauScan @scan | Where-Object { $null -ne $_.NodeName } | ForEach-Object {
                [ordered]@{ NodeName = [string]$_.NodeName; UpdateTitle = [string]$_.UpdateTitle; UpdateId = [string]$_.UpdateId }
            })
    }
    'cau.role' = {
        param($p)
        # GroupType 117 is CLUSGROUP_TYPE ClusterUpdateAgent (clusapi.h); the numeric value is used
        # because the PowerShell name of that enum member is not documented.
        $group = @(Get-ClusterGroup | Where-Object { [int]$_.GroupType -eq 117 }) | Select-Object -First 1
        if ($null -eq $group) {
            return $null
        }
        $parameters = [ordered]@{}
        foreach ($item in @(Get-CauClusterRole)) {
            $parameters[[string]$item.Name] = ConvertTo-WsfcText $item.Value
        }
        [ordered]@{
            GroupName = [string]$group.Name
            OwnerNode = [string]$group.OwnerNode.Name
            State = ConvertTo-WsfcText $group.State
            Parameters = $parameters
        }
    }
    'node.config' = {
        param($p)
        # What the upgrade flow captures before an eviction and checks after reprovisioning.
        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        $switches = @()
        if ($null -ne (Get-Command -Name Get-VMSwitch -ErrorAction SilentlyContinue)) {
            $switches = @(Get-VMSwitch | ForEach-Object {
                    [ordered]@{
                        Name = [string]$_.Name; SwitchType = ConvertTo-WsfcText $_.SwitchType
                        EmbeddedTeamingEnabled = [bool]$_.EmbeddedTeamingEnabled
                    }
                })
        }
        $service = Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
        [ordered]@{
            ComputerName = [string]$env:COMPUTERNAME
            Caption = [string]$os.Caption
            BuildNumber = [int]$os.BuildNumber
            Adapters = @(Get-NetAdapter -Physical | ForEach-Object {
                    [ordered]@{
                        Name = [string]$_.Name; InterfaceDescription = [string]$_.InterfaceDescription
                        MacAddress = [string]$_.MacAddress; LinkSpeed = [string]$_.LinkSpeed
                    }
                })
            IPAddresses = @(Get-NetIPAddress -AddressFamily IPv4 |
                Where-Object { $_.PrefixOrigin -ne 'WellKnown' -and $_.IPAddress -notlike '169.254.*' } | ForEach-Object {
                    [ordered]@{ InterfaceAlias = [string]$_.InterfaceAlias; IPAddress = [string]$_.IPAddress; PrefixLength = [int]$_.PrefixLength }
                })
            VMSwitches = $switches
            Disks = @(Get-Disk | ForEach-Object {
                    [ordered]@{
                        Number = [int]$_.Number; FriendlyName = [string]$_.FriendlyName
                        SerialNumber = ([string]$_.SerialNumber).Trim(); Size = [long]$_.Size; BusType = ConvertTo-WsfcText $_.BusType
                    }
                })
            Features = @(Get-WindowsFeature | Where-Object { $_.Installed } | ForEach-Object { [string]$_.Name })
            ClusterService = ConvertTo-WsfcText $service.Status
        }
    }
    'cluster.node.remove' = {
        param($p)
        $arguments = @{ Name = [string]$p.name; Force = $true }
        if ([bool](Get-WsfcParam $p 'ignore_storage_loss' $false)) {
            $arguments.IgnoreStorageConnectivityLoss = $true
        }
        Remove-ClusterNode @arguments
        $null
    }
    'cluster.node.add' = {
        param($p)
        # Run on the joining node itself with -Cluster: nodes on the newer OS are added from a
        # node on the newer OS (Cluster OS Rolling Upgrade).
        $arguments = @{ Name = [string]$p.name; Cluster = [string]$p.cluster }
        if ([bool](Get-WsfcParam $p 'no_storage' $false)) {
            $arguments.NoStorage = $true
        }
        $node = Add-ClusterNode @arguments
        ConvertTo-WsfcNode (Get-ClusterNode -Cluster ([string]$p.cluster) -Name ([string]$p.name))
    }
    'cluster.group.move' = {
        param($p)
        $owner = [string]$p.owner
        , @(@($p.names) | ForEach-Object {
                $group = Get-ClusterGroup -Name ([string]$_)
                if ([int]$group.GroupType -eq 111) {
                    $moved = Move-ClusterVirtualMachineRole -Name $group.Name -Node $owner -MigrationType Live -Wait 0
                }
                else {
                    $moved = Move-ClusterGroup -Name $group.Name -Node $owner -Wait 0
                }
                ConvertTo-WsfcGroup (Get-ClusterGroup -Name $group.Name)
            })
    }
    'cluster.functional_level' = {
        param($p)
        $whatIf = [bool](Get-WsfcParam $p 'what_if' $true)
        # -WhatIf tests whether the update would succeed and throws when it would not.
        if ($whatIf) {
            Update-ClusterFunctionalLevel -Force -WhatIf
        }
        else {
            [void](Update-ClusterFunctionalLevel -Force)
        }
        $cluster = Get-Cluster
        [ordered]@{
            ClusterFunctionalLevel = [int]$cluster.ClusterFunctionalLevel
            ClusterUpgradeVersion = [int]$cluster.ClusterUpgradeVersion
            WhatIf = $whatIf
        }
    }
    'storage.pool_update' = {
        param($p)
        Update-StoragePool -FriendlyName ([string]$p.name) -Confirm:$false
        $pool = Get-StoragePool -FriendlyName ([string]$p.name)
        [ordered]@{ FriendlyName = [string]$pool.FriendlyName; Version = ConvertTo-WsfcText $pool.Version }
    }
    'vm.list' = {
        param($p)
        $default = [string](Get-VMHostSupportedVersion -Default).Version
        , @(Get-VM | ForEach-Object {
                [ordered]@{ Name = [string]$_.Name; State = ConvertTo-WsfcText $_.State; Version = [string]$_.Version; HostDefault = $default }
            })
    }
    'vm.update_version' = {
        param($p)
        $name = [string]$p.name
        $vm = Get-VM -Name $name
        $running = ($vm.State -ne 'Off')
        if ($running -and -not [bool](Get-WsfcParam $p 'allow_stop' $false)) {
            throw "The virtual machine '$name' must be turned off to update its configuration version."
        }
        if ($running) {
            Stop-VM -Name $name -Force
        }
        Update-VMVersion -Name $name -Force
        if ($running) {
            Start-VM -Name $name
        }
        $vm = Get-VM -Name $name
        [ordered]@{ Name = [string]$vm.Name; State = ConvertTo-WsfcText $vm.State; Version = [string]$vm.Version }
    }
    'node.media' = {
        param($p)
        $media = [string]$p.media
        $setup = Join-Path $media 'setup.exe'
        $checkedAs = 'session'
        if ($media.StartsWith('\\')) {
            # A share is a second hop from a WinRM session without a delegated credential: Test-Path
            # says False there for media that setup, running as SYSTEM (the computer account on the
            # network), can read. So a short SYSTEM task looks, as setup will. The path travels in a
            # file; only an id is part of the command line.
            $checkedAs = 'SYSTEM'
            $base = Join-Path $env:ProgramData 'wsfc.rolling'
            [void](New-Item -ItemType Directory -Path $base -Force)
            $id = [guid]::NewGuid().ToString()
            $pathFile = Join-Path $base "media-$id.path"
            $outFile = Join-Path $base "media-$id.out"
            $taskName = "wsfc.rolling media check $id"
            Set-Content -Path $pathFile -Value $setup -Encoding UTF8
            $command = "Test-Path -LiteralPath (Get-Content -Raw -Path '$pathFile').Trim() | Set-Content -Path '$outFile' -Encoding ASCII"
            $system = @{ Principal = (New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest) }
            $lines = Invoke-WsfcShortTask $taskName $command $system $outFile 120 @($pathFile)
            $exists = ((@($lines) -join '').Trim() -eq 'True')
        }
        else {
            $exists = Test-Path -LiteralPath $setup
        }
        if (-not $exists) {
            $message = "Setup media not found at '$media' (looked for setup.exe there as $checkedAs, as setup runs)."
            throw [System.Management.Automation.ItemNotFoundException]::new($message)
        }
        [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; Media = $media; Setup = $setup; CheckedAs = $checkedAs }
    }
    'node.os_upgrade' = {
        param($p)
        # setup.exe runs as SYSTEM from a scheduled task: it restarts the node several times and
        # must outlive this WinRM session. The media path is a value, never part of a command line;
        # 'node.media' checked it in the same request, the way setup will see it.
        $setup = Join-Path ([string]$p.media) 'setup.exe'
        $taskName = 'wsfc.rolling OS upgrade'
        $action = New-ScheduledTaskAction -Execute $setup -Argument '/auto upgrade /quiet /eula accept /dynamicupdate disable'
        $principal = New-ScheduledTaskPrincipal -UserId 'SYSTEM' -LogonType ServiceAccount -RunLevel Highest
        [void](Register-ScheduledTask -TaskName $taskName -Action $action -Principal $principal -Force)
        Start-ScheduledTask -TaskName $taskName
        [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; Started = $true }
    }
}

function ConvertTo-WsfcError($Record) {
    [ordered]@{
        category = $Record.CategoryInfo.Category.ToString()
        fqid = [string]$Record.FullyQualifiedErrorId
        message = [string]$Record.Exception.Message
        target = [string]$Record.TargetObject
        exception = $Record.Exception.GetType().FullName
        native_code = Get-WsfcNativeCode $Record.Exception
    }
}

$WsfcDelegatedOps = @('cluster.node.remove', 'cluster.node.add', 'cluster.group.move')

function Invoke-WsfcDelegated($Call, $Delegate) {
    # Runs one call in a scheduled task logged on with the user's password: that logon holds
    # network credentials, which a WinRM network logon without delegation lacks (the double hop).
    # The task gets this same shim and a request of that call alone; only ids name the files.
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    [void](New-Item -ItemType Directory -Path $base -Force)
    $id = [guid]::NewGuid().ToString()
    $scriptPath = Join-Path $base "delegated-$id.ps1"
    $requestPath = Join-Path $base "delegated-$id.request"
    $outputPath = Join-Path $base "delegated-$id.out"
    $taskName = "wsfc.rolling delegated $id"
    $inner = [ordered]@{ protocol = 1; stop_on_error = $true; calls = @($Call) }
    $innerJson = ConvertTo-Json -InputObject $inner -Depth 12 -Compress
    Set-Content -Path $scriptPath -Value $ShimText -Encoding UTF8
    Set-Content -Path $requestPath -Value ([System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($innerJson))) -Encoding ASCII
    $command = "& '$scriptPath' -EncodedRequest (Get-Content -Raw -Path '$requestPath') | Set-Content -Path '$outputPath' -Encoding ASCII"
    $logon = @{ User = [string]$Delegate.user; Password = [string]$Delegate.password; RunLevel = 'Highest' }
    $lines = Invoke-WsfcShortTask $taskName $command $logon $outputPath 1800 @($scriptPath, $requestPath)
    $line = @($lines | Where-Object { $_ -like 'WSFC-RPC-RESULT:*' }) | Select-Object -First 1
    if ($null -eq $line) {
        throw "The scheduled task '$taskName' wrote no result."
    }
    $text = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($line.Substring(16)))
    return @((ConvertFrom-Json -InputObject $text).results)[0]
}

function Invoke-WsfcShortTask([string]$Name, [string]$Command, [hashtable]$Logon, [string]$OutputPath, [int]$TimeoutSeconds, [string[]]$Files) {
    # Runs one PowerShell command line in a scheduled task registered with $Logon (a Principal, or
    # User, Password and RunLevel), waits until the task is back to Ready and wrote $OutputPath, and
    # returns that file's lines. The task and the files are removed whatever happens. The command
    # line holds only paths of files under ProgramData\wsfc.rolling, never a user value.
    $action = New-ScheduledTaskAction -Execute 'powershell.exe' -Argument "-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command `"$Command`""
    try {
        [void](Register-ScheduledTask -TaskName $Name -Action $action @Logon -Force)
        Start-ScheduledTask -TaskName $Name
        $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
        while ((Get-ScheduledTask -TaskName $Name).State -ne 'Ready' -or -not (Test-Path -Path $OutputPath)) {
            if ((Get-Date) -gt $deadline) {
                throw "The scheduled task '$Name' did not finish within $TimeoutSeconds seconds."
            }
            Start-Sleep -Milliseconds 500
        }
        return @(Get-Content -Path $OutputPath)
    }
    finally {
        Unregister-ScheduledTask -TaskName $Name -Confirm:$false -ErrorAction SilentlyContinue
        Remove-Item -Path (@($Files) + @($OutputPath)) -ErrorAction SilentlyContinue
    }
}

function Get-WsfcIdentityMismatch($Expect) {
    # $null when this machine is the node the request is for: its computer name and, where it is
    # given and the cluster service runs here, its cluster node id. Otherwise what was found.
    if ($null -eq $Expect) {
        return $null
    }
    $computer = [string]$Expect.computer
    if ($computer -ne '' -and $computer -ne [string]$env:COMPUTERNAME) {
        return [ordered]@{ expected = $computer; actual = [string]$env:COMPUTERNAME }
    }
    $nodeId = [string]$Expect.node_id
    if ($nodeId -eq '') {
        return $null
    }
    $service = Get-Service -Name ClusSvc -ErrorAction SilentlyContinue
    if ($null -eq $service -or [string]$service.Status -ne 'Running') {
        return $null
    }
    try {
        $actualId = [string](Get-ClusterNode -Name $env:COMPUTERNAME -ErrorAction Stop).Id
    }
    catch {
        return $null
    }
    if ($actualId -ne $nodeId) {
        return [ordered]@{ expected = $computer; actual = [string]$env:COMPUTERNAME; expected_node_id = $nodeId; actual_node_id = $actualId }
    }
    return $null
}

function Invoke-WsfcCall($Call, $Delegate) {
    $operation = [string]$Call.op
    $result = [ordered]@{ id = $Call.id; op = $operation; ok = $true; value = $null; warnings = @() }
    if (-not $WsfcOperations.ContainsKey($operation)) {
        $result.ok = $false
        $result.error = [ordered]@{
            category = 'InvalidArgument'; fqid = 'WsfcUnknownOperation'; message = "Unknown operation '$operation'."
            target = $operation; exception = 'System.ArgumentException'; native_code = $null
        }
        return $result
    }
    if ($null -ne $Delegate -and $WsfcDelegatedOps -contains $operation) {
        try {
            return Invoke-WsfcDelegated $Call $Delegate
        }
        catch {
            $result.ok = $false
            $result.error = ConvertTo-WsfcError $_
            return $result
        }
    }
    try {
        # Each pipeline object is one output: a list comes through as one array object (unary
        # comma in the operation), warnings (stream 3) as WarningRecords.
        $values = New-Object System.Collections.ArrayList
        $warnings = New-Object System.Collections.ArrayList
        & $WsfcOperations[$operation] $Call.params 3>&1 | ForEach-Object {
            if ($_ -is [System.Management.Automation.WarningRecord]) {
                [void]$warnings.Add([string]$_.Message)
            }
            else {
                [void]$values.Add($_)
            }
        }
        $result.warnings = @($warnings.ToArray())
        if ($values.Count -eq 1) {
            $result.value = $values[0]
        }
        elseif ($values.Count -gt 1) {
            $result.value = @($values.ToArray())
        }
    }
    catch {
        $result.ok = $false
        $result.error = ConvertTo-WsfcError $_
    }
    return $result
}

$response = [ordered]@{ protocol = 1; computer = [string]$env:COMPUTERNAME; results = @() }
try {
    $json = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($EncodedRequest))
    $request = ConvertFrom-Json -InputObject $json
    $results = New-Object System.Collections.ArrayList
    # Identity before action: a request meant for one node runs nothing on another machine (an
    # inventory with two addresses swapped, a DNS record pointing at the wrong host, a node of the
    # same name in another cluster).
    $identity = Get-WsfcIdentityMismatch $request.expect
    if ($null -ne $identity) {
        $response.identity = $identity
    }
    else {
        foreach ($call in @($request.calls)) {
            $one = Invoke-WsfcCall $call $request.delegate
            [void]$results.Add($one)
            if ((-not $one.ok) -and [bool]$request.stop_on_error) {
                break
            }
        }
    }
    $response.results = @($results.ToArray())
}
catch {
    $response.fatal = [string]$_.Exception.Message
}
$text = ConvertTo-Json -InputObject $response -Depth 12 -Compress
Write-Output ('WSFC-RPC-RESULT:' + [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($text)))
"""


# Written to the node by 'wu.start' and run there by a scheduled task as SYSTEM: the Windows Update
# Agent refuses to download and install from a remote (WinRM) session. It survives WinRM drops and
# writes its progress to %ProgramData%\wsfc.rolling\wu-<id>.json, which 'wu.status' reads.
WINDOWS_UPDATE_TASK = r"""# wsfc.rolling windows update task 1
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[A-Za-z0-9-]{1,64}$')]
    [string]$Id
)

$ErrorActionPreference = 'Stop'
$base = Join-Path $env:ProgramData 'wsfc.rolling'
$statusPath = Join-Path $base "wu-$Id.json"
$request = Get-Content -Raw -Path (Join-Path $base "wu-$Id.request.json") | ConvertFrom-Json
$status = [ordered]@{
    Id = $Id; Mode = [string]$request.mode; Phase = 'Searching'; Progress = 0; Updates = @()
    RebootRequired = $false; Started = (Get-Date).ToUniversalTime().ToString('o'); Finished = $null; Error = $null
}
# IUpdateInstallationResult.ResultCode (OperationResultCode)
$resultNames = @('NotStarted', 'InProgress', 'Succeeded', 'SucceededWithErrors', 'Failed', 'Aborted')

function Save-WsfcStatus {
    $temporary = "$statusPath.tmp"
    Set-Content -Path $temporary -Value (ConvertTo-Json -InputObject $status -Depth 6) -Encoding UTF8
    Move-Item -Path $temporary -Destination $statusPath -Force
}

try {
    Save-WsfcStatus
    $session = New-Object -ComObject 'Microsoft.Update.Session'
    $session.ClientApplicationID = 'wsfc.rolling'
    $found = $session.CreateUpdateSearcher().Search("IsInstalled=0 and Type='Software' and IsHidden=0")
    $categories = @($request.categories | ForEach-Object { ([string]$_).ToLowerInvariant() })
    $accept = @($request.accept | ForEach-Object { ([string]$_).ToUpperInvariant() })
    $reject = @($request.reject | ForEach-Object { ([string]$_).ToUpperInvariant() })
    $chosen = New-Object System.Collections.ArrayList
    $views = New-Object System.Collections.ArrayList
    foreach ($update in $found.Updates) {
        $kb = @($update.KBArticleIDs | ForEach-Object { 'KB' + $_ }) | Select-Object -First 1
        $classification = @($update.Categories | Where-Object { $_.Type -eq 'UpdateClassification' } |
                ForEach-Object { [string]$_.Name }) | Select-Object -First 1
        if ($categories.Count -gt 0 -and $categories -notcontains ([string]$classification).ToLowerInvariant()) {
            continue
        }
        if ($accept.Count -gt 0 -and $accept -notcontains ([string]$kb).ToUpperInvariant()) {
            continue
        }
        if ($reject -contains ([string]$kb).ToUpperInvariant()) {
            continue
        }
        [void]$chosen.Add($update)
        [void]$views.Add([ordered]@{
                KB = [string]$kb; Title = [string]$update.Title; Classification = [string]$classification
                SizeMB = [int]($update.MaxDownloadSize / 1048576); RebootRequired = ($update.InstallationBehavior.RebootBehavior -ne 0)
                ResultCode = $null; HResult = $null
            })
    }
    $status.Updates = @($views.ToArray())
    if ($request.mode -eq 'install') {
        for ($index = 0; $index -lt $chosen.Count; $index++) {
            $update = $chosen[$index]
            $one = New-Object -ComObject 'Microsoft.Update.UpdateColl'
            if (-not $update.EulaAccepted) {
                $update.AcceptEula()
            }
            [void]$one.Add($update)
            $status.Phase = 'Downloading'
            Save-WsfcStatus
            $downloader = $session.CreateUpdateDownloader()
            $downloader.Updates = $one
            [void]$downloader.Download()
            $status.Phase = 'Installing'
            Save-WsfcStatus
            $installer = $session.CreateUpdateInstaller()
            $installer.Updates = $one
            $outcome = $installer.Install()
            $result = $outcome.GetUpdateResult(0)
            $views[$index].ResultCode = $resultNames[[int]$result.ResultCode]
            $views[$index].HResult = [int]$result.HResult
            if ($outcome.RebootRequired) {
                $status.RebootRequired = $true
            }
            $status.Progress = [int](100 * ($index + 1) / $chosen.Count)
            $status.Updates = @($views.ToArray())
            Save-WsfcStatus
        }
    }
    $failed = @($views | Where-Object { $_.ResultCode -eq 'Failed' -or $_.ResultCode -eq 'Aborted' })
    if ($failed.Count -gt 0) {
        $status.Phase = 'Failed'
    }
    else {
        $status.Phase = 'Completed'
    }
}
catch {
    $status.Phase = 'Failed'
    $status.Error = $_.Exception.Message
}
$status.Progress = 100
$status.Finished = (Get-Date).ToUniversalTime().ToString('o')
Save-WsfcStatus
"""


def encode_request(calls, stop_on_error=False, delegate=None, expect_computer=None, expect_node_id=None):
    """Encode calls as the base64 request the shim decodes.

    Args:
        calls: list of ``(op, params)``; params is a dict of JSON-serialisable values.
        stop_on_error: stop at the first failed call (for dependent mutations).
        delegate: ``{'user', 'password'}`` for the scheduled task that runs the operations in
            NEEDS_DELEGATION, or None.
        expect_computer: the computer name the endpoint must have; on any other machine the shim
            runs none of the calls and answers with an ``identity`` record instead.
        expect_node_id: with it, also the cluster node id the endpoint must have while its cluster
            service runs (a node of the same name in another cluster is refused the same way).

    Returns:
        ASCII base64 text of the UTF-8 JSON request.
    """
    request = {
        'protocol': PROTOCOL,
        'stop_on_error': bool(stop_on_error),
        'calls': [{'id': i, 'op': op, 'params': params or {}} for i, (op, params) in enumerate(calls)],
    }
    if delegate:
        request['delegate'] = delegate
    if expect_computer:
        request['expect'] = {'computer': expect_computer}
        if expect_node_id:
            request['expect']['node_id'] = str(expect_node_id)
    raw = json.dumps(request, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    return base64.b64encode(raw).decode('ascii')


def decode_request(request_b64):
    """Inverse of ``encode_request`` (what the shim does first); used by tests and the lab."""
    return json.loads(base64.b64decode(request_b64.encode('ascii'), validate=True).decode('utf-8'))


def stdin_payload(request_b64):
    """The bytes written to powershell.exe's stdin: shim, separator, request."""
    return (SHIM + '\n' + REQUEST_SEPARATOR + '\n' + request_b64 + '\n').encode('ascii')


def powershell_command():
    """The executable and arguments of one round trip (the bootstrap as -EncodedCommand)."""
    encoded = base64.b64encode(BOOTSTRAP.encode('utf-16-le')).decode('ascii')
    return 'powershell.exe', ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass',
                              '-EncodedCommand', encoded]


def encode_response(response):
    """Render a response document the way the shim prints it (used by the lab and tests)."""
    raw = json.dumps(response, ensure_ascii=False, separators=(',', ':')).encode('utf-8')
    return RESULT_MARKER + base64.b64encode(raw).decode('ascii')


def parse_output(stdout, stderr, rc, endpoint):
    """Find the shim's result line in the command output and decode it.

    Raises:
        RemoteCommandError: no result line (PowerShell failed before or around the shim), or the
            shim reported a fatal decoding error.
    """
    text = stdout.decode('utf-8', 'replace') if isinstance(stdout, bytes) else stdout
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(RESULT_MARKER):
            try:
                doc = json.loads(base64.b64decode(line[len(RESULT_MARKER):]).decode('utf-8'))
            except (ValueError, TypeError) as exc:
                raise RemoteCommandError('Unreadable result from %s: %s' % (endpoint, exc))
            if doc.get('fatal'):
                raise RemoteCommandError('The PowerShell shim on %s could not run the request: %s'
                                         % (endpoint, doc['fatal']))
            return doc
    err = stderr.decode('utf-8', 'replace') if isinstance(stderr, bytes) else (stderr or '')
    raise RemoteCommandError('PowerShell on %s exited with code %s and no result: %s'
                             % (endpoint, rc, clixml_to_text(err).strip() or '(no error output)'))


def clixml_to_text(text):
    """Turn PowerShell's ``#< CLIXML`` stderr into plain text (the error-stream strings)."""
    if not text.startswith('#< CLIXML'):
        return text
    import re
    import xml.etree.ElementTree as ET
    try:
        root = ET.fromstring(text.split('\n', 1)[1] if '\n' in text else text[len('#< CLIXML'):])
    except ET.ParseError:
        return text
    parts = []
    for node in root.iter():
        if node.tag.endswith('}S') and node.get('S') == 'Error' and node.text:
            parts.append(re.sub(r'_x([0-9A-Fa-f]{4})_', lambda m: chr(int(m.group(1), 16)), node.text))
    return ''.join(parts)
