# Cluster-Aware Updating reads. The CAU cmdlets run against the local cluster (-ClusterName is
# needed only off the cluster); what they read on other nodes is a second hop from a WinRM session
# without delegation, so they take the user's credential where one is given.

function Get-WsfcCauCredential($Params) {
    $user = Get-WsfcParam $Params 'user' $null
    if ($null -eq $user) {
        return @{}
    }
    $secret = ConvertTo-SecureString -String ([string]$Params.password) -AsPlainText -Force
    return @{ Credential = New-Object System.Management.Automation.PSCredential -ArgumentList ([string]$user), $secret }
}

$WsfcOperations['cau.run_state'] = {
    param($p)
    if ($null -eq (Get-Command -Name Get-CauRun -ErrorAction SilentlyContinue)) {
        return [ordered]@{ RunState = 'NotInstalled'; RunId = $null; CurrentOrchestrator = $null; Nodes = @() }
    }
    $credential = Get-WsfcCauCredential $p
    $output = @(Get-CauRun @credential -WarningAction SilentlyContinue)
    $run = $null
    if ($output.Count -gt 1) {
        $run = $output[1]
    }
    # Each node's state during a run (property names UNVERIFIED: see docs/windows-behaviour.md section 13).
    $nodes = @($run.NodeStatusNotifications | Where-Object { $null -ne $_ } | ForEach-Object {
            [ordered]@{ Node = [string]$_.Node; Status = ConvertTo-WsfcText $_.Status }
        })
    [ordered]@{
        RunState = ConvertTo-WsfcText $output[0]
        RunId = [string]$run.RunId
        CurrentOrchestrator = [string]$run.CurrentOrchestrator
        Nodes = $nodes
    }
}

$WsfcOperations['cau.scan'] = {
    param($p)
    $scan = Get-WsfcCauCredential $p
    $scan.CauPluginName = @([string]$p.plugin)
    $pluginArguments = Get-WsfcParam $p 'plugin_arguments' $null
    if ($null -ne $pluginArguments) {
        $table = @{}
        foreach ($property in $pluginArguments.PSObject.Properties) {
            $table[$property.Name] = [string]$property.Value
        }
        $scan.CauPluginArguments = @($table)
    }
    # Rows without NodeName are not update entries (as Windows Admin Center filters them).
    , @(Invoke-CauScan @scan | Where-Object { $null -ne $_.NodeName } | ForEach-Object {
            [ordered]@{ NodeName = [string]$_.NodeName; UpdateTitle = [string]$_.UpdateTitle; UpdateId = [string]$_.UpdateId }
        })
}

$WsfcOperations['cau.role'] = {
    param($p)
    # GroupType 117 is CLUSGROUP_TYPE ClusterUpdateAgent (clusapi.h); the numeric value is used
    # because the PowerShell name of that enum member is not documented.
    $group = @(Get-ClusterGroup | Where-Object { [int]$_.GroupType -eq 117 }) | Select-Object -First 1
    if ($null -eq $group) {
        return $null
    }
    $credential = Get-WsfcCauCredential $p
    $parameters = [ordered]@{}
    foreach ($item in @(Get-CauClusterRole @credential)) {
        $parameters[[string]$item.Name] = ConvertTo-WsfcText $item.Value
    }
    [ordered]@{
        GroupName = [string]$group.Name
        OwnerNode = [string]$group.OwnerNode.Name
        State = ConvertTo-WsfcText $group.State
        Parameters = $parameters
    }
}

# Updating Runs started by the collection: Invoke-CauRun runs in a scheduled task (cau-run-task.ps1) on
# the node, logged on as the user CAU acts as; the controller follows it with Get-CauRun and reads the
# report at the end. Parameters the node's Invoke-CauRun lacks are refused before anything starts
# (their set differs between releases, windows-behaviour.md section 13).

$WsfcOperations['cau.run_start'] = {
    param($p)
    $known = (Get-Command -Name Invoke-CauRun).Parameters.Keys
    $missing = @($p.parameters.PSObject.Properties | Where-Object { $known -notcontains $_.Name } | ForEach-Object { $_.Name })
    if ($missing.Count -gt 0) {
        $build = [string](Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion' -Name CurrentBuildNumber).CurrentBuildNumber
        throw ("This node's Invoke-CauRun (build {0}) has no parameter {1}." -f $build, ($missing -join ', '))
    }
    $credential = Get-WsfcCauCredential $p
    $output = @(Get-CauRun @credential -WarningAction SilentlyContinue)
    $state = ConvertTo-WsfcText $output[0]
    if ($state -ne 'RunNotInProgress') {
        $runId = if ($output.Count -gt 1) { [string]$output[1].RunId } else { '' }
        throw ('Cluster-Aware Updating reports {0} (run {1}): no Updating Run is started.' -f $state, $runId)
    }
    $base = Join-Path $env:ProgramData 'wsfc.rolling'
    [void](New-Item -ItemType Directory -Path $base -Force)
    $scriptPath = Join-Path $base 'cau-run-task.ps1'
    Set-Content -Path $scriptPath -Value ([string]$p.task_script) -Encoding UTF8
    $request = @{ plugin = $p.plugin; parameters = $p.parameters }
    Set-Content -Path (Join-Path $base 'cau-run.request.json') -Value (ConvertTo-Json -InputObject $request -Depth 6) -Encoding UTF8
    Remove-Item -Path (Join-Path $base 'cau-run.json') -ErrorAction SilentlyContinue
    $taskName = 'wsfc.rolling CAU run'
    $delegate = @{ user = [string]$p.user; password = [string]$p.password }
    Register-WsfcTask $taskName 'powershell.exe' "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File `"$scriptPath`"" $delegate
    Start-ScheduledTask -TaskName $taskName
    [ordered]@{ ComputerName = [string]$env:COMPUTERNAME; Started = $true }
}

$WsfcOperations['cau.run_task'] = {
    param($p)
    # What the CAU run task wrote (its phase, Invoke-CauRun's error) and what Task Scheduler knows of it.
    $statusPath = Join-Path (Join-Path $env:ProgramData 'wsfc.rolling') 'cau-run.json'
    $status = $null
    if (Test-Path -Path $statusPath) {
        $status = Get-Content -Raw -Path $statusPath | ConvertFrom-Json
    }
    [ordered]@{
        Phase = if ($null -ne $status) { [string]$status.Phase } else { $null }
        Error = if ($null -ne $status) { [string]$status.Error } else { $null }
        Started = if ($null -ne $status) { [string]$status.Started } else { $null }
        Ended = if ($null -ne $status) { [string]$status.Ended } else { $null }
        Task = Get-WsfcTaskFacts 'wsfc.rolling CAU run'
    }
}

$WsfcOperations['cau.report'] = {
    param($p)
    # Get-CauReport -Last -Detailed ($null before the first run), as plain data: per node its status,
    # its updates with their result codes, and its error.
    $credential = Get-WsfcCauCredential $p
    $report = Get-CauReport @credential -Last -Detailed
    if ($null -eq $report) {
        return $null
    }
    $cluster = $report.ClusterResult
    $nodes = @($cluster.NodeResults | Where-Object { $null -ne $_ } | ForEach-Object {
            $updates = @($_.InstallResults | Where-Object { $null -ne $_ } | ForEach-Object {
                    [ordered]@{ Title = [string]$_.UpdateTitle; Id = [string]$_.UpdateId; ResultCode = ConvertTo-WsfcText $_.UpdateResultCode; ErrorCode = [long]$_.ErrorCode }
                })
            $errorText = $null
            if ($null -ne $_.ErrorRecordData) {
                $errorText = [string]$_.ErrorRecordData.ExceptionData
            }
            [ordered]@{
                Node = [string]$_.Node.NodeName; Status = ConvertTo-WsfcText $_.Status; Error = $errorText
                Succeeded = [int]$_.NumberOfSucceededUpdates; Failed = [int]$_.NumberOfFailedUpdates; Updates = $updates
            }
        })
    [ordered]@{
        RunId = [string]$cluster.RunId
        Status = ConvertTo-WsfcText $cluster.Status
        StartTimestamp = ConvertTo-WsfcDate $cluster.StartTimestamp
        RunDurationSeconds = [double]$cluster.RunDuration.TotalSeconds
        Plugin = [string]$report.Plugin
        Nodes = $nodes
    }
}

$WsfcOperations['cau.recover'] = {
    param($p)
    # Invoke-CauRun -ForceRecovery: clears the lock a failed Updating Run left (ALS-CCR). Only on request.
    $credential = Get-WsfcCauCredential $p
    $output = @(Get-CauRun @credential -WarningAction SilentlyContinue)
    $runId = if ($output.Count -gt 1) { [string]$output[1].RunId } else { $null }
    [void](Invoke-CauRun @credential -ForceRecovery -Force)
    [ordered]@{ Recovered = $runId }
}

# The CAU clustered role (self-updating mode): add, configure, enable or disable, remove. Parameters arrive by
# their cmdlet names; values are numbers, text, lists or switches (true).

function ConvertTo-WsfcCauSplat($Params) {
    $splat = Get-WsfcCauCredential $Params
    $splat.Force = $true
    $parameters = Get-WsfcParam $Params 'parameters' $null
    if ($null -ne $parameters) {
        foreach ($property in $parameters.PSObject.Properties) {
            $value = $property.Value
            if ($value -is [bool]) {
                $splat[$property.Name] = [switch]$value
            }
            elseif ($value -is [System.Array]) {
                $splat[$property.Name] = @($value)
            }
            else {
                $splat[$property.Name] = $value
            }
        }
    }
    $plugin = Get-WsfcParam $Params 'plugin' $null
    if ($null -ne $plugin) {
        $splat.CauPluginName = @([string]$plugin.name)
        $arguments = @{}
        if ($null -ne $plugin.arguments) {
            foreach ($property in $plugin.arguments.PSObject.Properties) {
                $arguments[$property.Name] = [string]$property.Value
            }
        }
        if ($arguments.Count -gt 0) {
            $splat.CauPluginArguments = @($arguments)
        }
    }
    return $splat
}

$WsfcOperations['cau.role_add'] = {
    param($p)
    $splat = ConvertTo-WsfcCauSplat $p
    [void](Add-CauClusterRole @splat)
    [ordered]@{ Done = $true }
}

$WsfcOperations['cau.role_set'] = {
    param($p)
    $splat = ConvertTo-WsfcCauSplat $p
    [void](Set-CauClusterRole @splat)
    [ordered]@{ Done = $true }
}

$WsfcOperations['cau.role_enable'] = {
    param($p)
    $credential = Get-WsfcCauCredential $p
    if ([bool]$p.enabled) {
        [void](Enable-CauClusterRole @credential -Force)
    }
    else {
        [void](Disable-CauClusterRole @credential -Force)
    }
    [ordered]@{ Done = $true }
}

$WsfcOperations['cau.role_remove'] = {
    param($p)
    $credential = Get-WsfcCauCredential $p
    [void](Remove-CauClusterRole @credential -Force)
    [ordered]@{ Done = $true }
}

$WsfcOperations['cau.setup_test'] = {
    param($p)
    # Test-CauSetup runs CAU's Best Practices Analyzer model; Get-BpaResult reads its results (PS:Test-CauSetup).
    # The result objects' property names (Severity, Title, Problem, Resolution) are UNVERIFIED.
    $credential = Get-WsfcCauCredential $p
    [void](Test-CauSetup @credential)
    , @(Get-BpaResult -ModelId 'Microsoft/Windows/ClusterAwareUpdating' | Where-Object { $null -ne $_ } | ForEach-Object {
            [ordered]@{
                Severity = ConvertTo-WsfcText $_.Severity; Title = [string]$_.Title
                Problem = [string]$_.Problem; Resolution = [string]$_.Resolution
            }
        })
}
