# The run lock: a private property the cluster database replicates to every node.

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

$WsfcOperations['lock.read'] = {
    param($p)
    [ordered]@{ Value = Get-WsfcLockValue (Get-WsfcLockResource); Now = ConvertTo-WsfcDate (Get-Date) }
}

$WsfcOperations['lock.cas'] = {
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
