# wsfc.rolling rpc shim 1
[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [string]$EncodedRequest,
    [string]$ShimText = ''
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
# CDXML cmdlets (Storage, ScheduledTasks, NetAdapter, NetTCPIP, Get-Disk) ignore a script's
# $ErrorActionPreference (PowerShell issues #4568, #24389): a default for every cmdlet's
# -ErrorAction makes their errors stop too. An explicit -ErrorAction still wins where given.
$PSDefaultParameterValues = @{ '*:ErrorAction' = 'Stop' }

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

$WsfcOperations = @{}
