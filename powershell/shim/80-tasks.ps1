# Work that runs in a scheduled task on the node: delegated calls (a logon with network
# credentials) and short checks as SYSTEM.

$WsfcDelegatedOps = @('cluster.node.remove', 'cluster.node.add', 'cluster.group.move')

function Register-WsfcTask([string]$Name, [string]$Execute, [string]$Argument, $Delegate) {
    # Registers (replacing) a task that runs as SYSTEM, or logged on with the delegate's password.
    # SYSTEM by its SID (the name is localized). Default task settings keep a task from starting on
    # battery and stop it when the machine goes on battery; these never stop for that, nor for a
    # run time limit (setup and Windows Update take hours).
    $action = New-ScheduledTaskAction -Execute $Execute -Argument $Argument
    $settings = New-ScheduledTaskSettingsSet -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -ExecutionTimeLimit ([TimeSpan]::Zero)
    if ($null -eq $Delegate) {
        $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
        [void](Register-ScheduledTask -TaskName $Name -Action $action -Settings $settings -Principal $principal -Force)
        return
    }
    # A stored-password logon (TASK_LOGON_PASSWORD) holds network credentials. Registering one
    # fails with 0x80070520 where the policy "Network access: Do not allow storage of passwords and
    # credentials" is on; the controller names that policy (the HResult travels in the error).
    [void](Register-ScheduledTask -TaskName $Name -Action $action -Settings $settings -User ([string]$Delegate.user) `
            -Password ([string]$Delegate.password) -RunLevel Highest -Force)
}

function Get-WsfcTaskFacts([string]$Name) {
    # What Task Scheduler knows of a task: a task that failed before writing anything of its own
    # (execution policy AllSigned by Group Policy, no "Log on as a batch job" right, a script error)
    # shows only here. LastTaskResult 267011 (0x41303) = has not run yet, 267009 (0x41301) = running.
    $task = Get-ScheduledTask -TaskName $Name -ErrorAction SilentlyContinue
    if ($null -eq $task) {
        return $null
    }
    $info = Get-ScheduledTaskInfo -TaskName $Name -ErrorAction SilentlyContinue
    $lastRun = $null
    $result = $null
    if ($null -ne $info) {
        $result = [long]$info.LastTaskResult
        if ($null -ne $info.LastRunTime -and ([datetime]$info.LastRunTime).Year -gt 2000) {
            $lastRun = ConvertTo-WsfcDate $info.LastRunTime
        }
    }
    [ordered]@{ State = ConvertTo-WsfcText $task.State; LastTaskResult = $result; LastRunTime = $lastRun }
}

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
    $lines = Invoke-WsfcShortTask $taskName $command $Delegate $outputPath 1800 @($scriptPath, $requestPath)
    $line = @($lines | Where-Object { $_ -like 'WSFC-RPC-RESULT:*' }) | Select-Object -First 1
    if ($null -eq $line) {
        throw "The scheduled task '$taskName' wrote no result."
    }
    $text = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($line.Substring(16)))
    return @((ConvertFrom-Json -InputObject $text).results)[0]
}

function Invoke-WsfcShortTask([string]$Name, [string]$Command, $Delegate, [string]$OutputPath, [int]$TimeoutSeconds, [string[]]$Files) {
    # Runs one PowerShell command line in a scheduled task (as SYSTEM, or logged on as $Delegate),
    # waits until the task is back to Ready and wrote $OutputPath, and returns that file's lines. A
    # task that ended without writing it fails at once with its LastTaskResult. The task and the
    # files are removed whatever happens. The command line holds only paths of files under
    # ProgramData\wsfc.rolling, never a user value.
    $argument = "-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command `"$Command`""
    try {
        Register-WsfcTask $Name 'powershell.exe' $argument $Delegate
        Start-ScheduledTask -TaskName $Name
        $deadline = (Get-Date).AddSeconds($TimeoutSeconds)
        while ($true) {
            $state = [string](Get-ScheduledTask -TaskName $Name).State
            if ((Test-Path -Path $OutputPath) -and $state -eq 'Ready') {
                break
            }
            $info = Get-ScheduledTaskInfo -TaskName $Name
            if ($state -eq 'Ready' -and [long]$info.LastTaskResult -ne 267011 -and ([datetime]$info.LastRunTime).Year -gt 2000 -and
                -not (Test-Path -Path $OutputPath)) {
                throw ("The scheduled task '{0}' ended with result 0x{1:X8} without writing its output (see the " +
                    "Microsoft-Windows-TaskScheduler/Operational log; an execution policy set by Group Policy or a " +
                    "missing 'Log on as a batch job' right are common causes)." -f $Name, [long]$info.LastTaskResult)
            }
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
