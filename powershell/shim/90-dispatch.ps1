# Errors, the identity check and the request loop: runs last, once every operation is defined.

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

function ConvertTo-WsfcWritable($Result) {
    # A value ConvertTo-Json cannot write (a property that throws when read, a cycle) must not cost
    # the whole answer: that one result comes back as an error naming its operation.
    try {
        [void](ConvertTo-Json -InputObject $Result -Depth 12 -Compress)
        return $Result
    }
    catch {
        $result = [ordered]@{ id = $Result.id; op = $Result.op; ok = $false; value = $null; warnings = @($Result.warnings) }
        $result.error = [ordered]@{
            category = 'InvalidResult'; fqid = 'WsfcUnwritableResult'
            message = "The result of '$($Result.op)' could not be written as JSON: $($_.Exception.Message)"
            target = [string]$Result.op; exception = $_.Exception.GetType().FullName; native_code = $null
        }
        return $result
    }
}

$response = [ordered]@{ protocol = 1; computer = [string]$env:COMPUTERNAME; results = @() }
try {
    $json = [System.Text.Encoding]::UTF8.GetString([System.Convert]::FromBase64String($EncodedRequest))
    $request = ConvertFrom-Json -InputObject $json
    # A warm process answers many requests: each answer carries its request's nonce.
    if ($null -ne $request.nonce) {
        $response.nonce = [string]$request.nonce
    }
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
            $one = ConvertTo-WsfcWritable (Invoke-WsfcCall $call $request.delegate)
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
# Straight to stdout and flushed: the client reads this answer while the process waits for the next request.
[Console]::Out.WriteLine('WSFC-RPC-RESULT:' + [System.Convert]::ToBase64String([System.Text.Encoding]::UTF8.GetBytes($text)))
[Console]::Out.Flush()
