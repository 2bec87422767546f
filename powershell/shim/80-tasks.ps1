# Work that runs in a scheduled task on the node: delegated calls (a logon with network
# credentials) and short checks as SYSTEM.

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
