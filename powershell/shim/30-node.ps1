# One node: capacity, boot state, restart, configuration capture, setup media and the OS upgrade.

$WsfcOperations['node.capacity'] = {
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

$WsfcOperations['node.boot'] = {
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

$WsfcOperations['node.restart'] = {
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

$WsfcOperations['node.config'] = {
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
    # The addresses of the cluster's IP Address resources sit on whichever node owns their group:
    # listed so that the controller leaves them out of the comparison (they move, the node does not
    # own them). None while the node runs no cluster service.
    $clusterAddresses = @()
    try {
        $clusterAddresses = @(Get-ClusterResource -ErrorAction Stop | Where-Object { [string]$_.ResourceType.Name -eq 'IP Address' } |
                ForEach-Object { [string](Get-ClusterParameter -InputObject $_ -Name Address -ErrorAction Stop).Value })
    }
    catch {
        $clusterAddresses = @()
    }
    [ordered]@{
        ComputerName = [string]$env:COMPUTERNAME
        Caption = [string]$os.Caption
        BuildNumber = [int]$os.BuildNumber
        ClusterAddresses = $clusterAddresses
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

$WsfcOperations['node.media'] = {
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
        $lines = Invoke-WsfcShortTask $taskName $command $null $outFile 120 @($pathFile)
        $exists = ((@($lines) -join '').Trim() -eq 'True')
        if (-not $exists) {
            $message = ("setup.exe cannot be read at '$media' by this node's computer account ($env:COMPUTERNAME`$), " +
                "which is how setup (running as SYSTEM) reads a share. Grant Domain Computers (or $env:COMPUTERNAME`$) " +
                "read access to the share, or copy the media to a local path on the node.")
            throw [System.Management.Automation.ItemNotFoundException]::new($message)
        }
    }
    elseif (-not (Test-Path -LiteralPath $setup)) {
        throw [System.Management.Automation.ItemNotFoundException]::new("Setup media not found at '$media': no setup.exe there on this node.")
    }
    [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; Media = $media; Setup = $setup; CheckedAs = $checkedAs }
}

$WsfcOperations['node.os_upgrade'] = {
    param($p)
    # os-upgrade-task.ps1 runs as SYSTEM from a scheduled task: it picks the image of the node's
    # edition, runs setup unattended and records setup's exit code; setup restarts the node
    # several times and must outlive this WinRM session. The media path travels in a file, never
    # on a command line; 'node.media' checked it in the same request, the way setup will see it.
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    [void](New-Item -ItemType Directory -Path $base -Force)
    $scriptPath = Join-Path $base 'os-upgrade-task.ps1'
    Set-Content -Path $scriptPath -Value ([string]$p.task_script) -Encoding UTF8
    $request = @{ media = [string]$p.media; dynamic_update = [bool](Get-WsfcParam $p 'dynamic_update' $false) }
    Set-Content -Path (Join-Path $base 'os-upgrade.request.json') -Value (ConvertTo-Json -InputObject $request) -Encoding UTF8
    Remove-Item -Path (Join-Path $base 'os-upgrade.json') -ErrorAction SilentlyContinue
    $taskName = 'wsfc.rolling OS upgrade'
    Register-WsfcTask $taskName 'powershell.exe' "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$scriptPath`"" $null
    Start-ScheduledTask -TaskName $taskName
    [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; Started = $true }
}

$WsfcOperations['node.os_upgrade_status'] = {
    param($p)
    # What the OS upgrade task wrote (Phase, the image it chose, setup's exit code) and what Task
    # Scheduler knows of it: the controller decides whether setup refused.
    $statusPath = Join-Path (Join-Path $env:ProgramData 'wsfc.rolling') 'os-upgrade.json'
    $status = $null
    if (Test-Path -Path $statusPath) {
        $status = Get-Content -Raw -Path $statusPath | ConvertFrom-Json
    }
    $task = Get-WsfcTaskFacts 'wsfc.rolling OS upgrade'
    [ordered]@{
        Phase = if ($null -ne $status) { [string]$status.Phase } else { $null }
        ImageIndex = if ($null -ne $status) { $status.ImageIndex } else { $null }
        Edition = if ($null -ne $status) { [string]$status.Edition } else { $null }
        ExitCode = if ($null -ne $status) { $status.ExitCode } else { $null }
        LogPath = if ($null -ne $status) { [string]$status.LogPath } else { $null }
        Error = if ($null -ne $status) { [string]$status.Error } else { $null }
        Task = $task
    }
}

$WsfcOperations['node.doctor'] = {
    param($p)
    # What a rolling run needs of this node, read only: PowerShell and modules, the services and
    # policies scheduled tasks depend on, the double hop, the clock.
    $modules = @('FailoverClusters', 'Storage', 'Hyper-V', 'ClusterAwareUpdating') | Where-Object {
        $null -ne (Get-Module -ListAvailable -Name $_ -ErrorAction SilentlyContinue)
    }
    $wu = Get-CimInstance -ClassName Win32_Service -Filter "Name='wuauserv'"
    $scheduler = Get-Service -Name Schedule -ErrorAction SilentlyContinue
    $credssp = $false
    try {
        $credssp = [string](Get-Item -Path 'WSMan:\localhost\Service\Auth\CredSSP' -ErrorAction Stop).Value -eq 'true'
    }
    catch {
        $credssp = $false
    }
    # "Network access: Do not allow storage of passwords and credentials" (Lsa DisableDomainCreds).
    $lsa = Get-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' -ErrorAction SilentlyContinue
    # The node's time source and its offset from it (w32tm /query /status /verbose: "Source" and
    # "Phase Offset: 0.0001234s"); a node on "Local CMOS Clock" is not synchronised at all.
    $timeSource = $null
    $phaseOffset = $null
    foreach ($line in @(& w32tm.exe /query /status /verbose 2>$null)) {
        if ($line -match '^Source:\s*(.+)$') {
            $timeSource = $Matches[1].Trim()
        }
        elseif ($line -match '^Phase Offset:\s*(-?[0-9.]+)s') {
            $phaseOffset = [double]::Parse($Matches[1], [System.Globalization.CultureInfo]::InvariantCulture)
        }
    }
    [ordered]@{
        ComputerName = [string]$env:COMPUTERNAME
        PSVersion = $PSVersionTable.PSVersion.ToString()
        Modules = @($modules)
        WindowsUpdateService = [ordered]@{ State = [string]$wu.State; StartMode = [string]$wu.StartMode }
        TaskScheduler = ConvertTo-WsfcText $scheduler.Status
        ExecutionPolicy = [ordered]@{
            MachinePolicy = [string](Get-ExecutionPolicy -Scope MachinePolicy)
            UserPolicy = [string](Get-ExecutionPolicy -Scope UserPolicy)
        }
        CredSSPService = $credssp
        PasswordStorageDisabled = ([int]$lsa.DisableDomainCreds -eq 1)
        TimeSource = $timeSource
        TimeOffsetSeconds = $phaseOffset
        Now = ConvertTo-WsfcDate (Get-Date)
    }
}

$WsfcOperations['node.cluster_startup'] = {
    param($p)
    # The cluster service's start mode: Disabled keeps a restarted node from starting it (and joining or forming
    # the cluster) before the offline update starts the cluster again.
    $mode = Get-WsfcParam $p 'mode' $null
    if ($null -ne $mode) {
        Set-Service -Name ClusSvc -StartupType ([string]$mode)
    }
    $service = Get-Service -Name ClusSvc
    [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; StartupType = [string]$service.StartType; Status = [string]$service.Status }
}

$WsfcOperations['offline.state'] = {
    param($p)
    # The offline update's record on this node's own disk (the cluster database is not there while the cluster
    # is stopped): any controller finds it on any node.
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    $path = Join-Path $base 'offline-update.json'
    if ([bool](Get-WsfcParam $p 'clear' $false)) {
        Remove-Item -Path $path -ErrorAction SilentlyContinue
    }
    $value = Get-WsfcParam $p 'value' $null
    if ($null -ne $value) {
        [void](New-Item -ItemType Directory -Path $base -Force)
        Set-Content -Path "$path.tmp" -Value ([string]$value) -Encoding UTF8
        Move-Item -Path "$path.tmp" -Destination $path -Force
    }
    $current = $null
    if (Test-Path -Path $path) {
        $current = [string](Get-Content -Raw -Path $path)
    }
    [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; Value = $current }
}
