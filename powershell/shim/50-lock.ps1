# The run lock: private properties of the cluster object, which the cluster database replicates to
# every node. The cluster object takes private properties on every cluster, also those without a
# core network name (AD-detached, Distributed Network Name) ([MS-CMRP] 3.1.4.3.7.14), and a write
# to it is not a resource's "stored, applied at next online" (5024).
#
# Windows has no compare-and-set on a property, so taking the lock away from no one (or from a run
# that is gone) goes through claims, one property per contender ('WsfcRollingClaim-<token>'), in
# the manner of Lamport's bakery: a contender writes a claim without a ticket, reads every claim,
# writes its ticket as one more than the highest it saw, and enters only when no other fresh claim
# is still without a ticket and none has a smaller (ticket, token). Only a contender that entered
# writes 'WsfcRollingLock' for a new holder; every decision about the lock itself is made on the
# controller.

function Get-WsfcLockHome {
    return Get-Cluster
}

function Get-WsfcLockProperties($LockHome, [string]$Prefix) {
    # name -> value of the private properties whose name starts with $Prefix. Listing and filtering
    # instead of Get-ClusterParameter -Name: for a name that does not exist that can be a
    # terminating error which -ErrorAction does not silence.
    $found = @{}
    foreach ($parameter in @(Get-ClusterParameter -InputObject $LockHome -ErrorAction Stop)) {
        $name = [string]$parameter.Name
        if ($name.StartsWith($Prefix, [System.StringComparison]::Ordinal) -and $null -ne $parameter.Value) {
            $found[$name] = [string]$parameter.Value
        }
    }
    return $found
}

function Get-WsfcLockValue($LockHome) {
    $all = Get-WsfcLockProperties $LockHome 'WsfcRollingLock'
    if ($all.ContainsKey('WsfcRollingLock')) {
        return $all['WsfcRollingLock']
    }
    return $null
}

function Set-WsfcLockProperty($LockHome, [string]$Name, $Value, [bool]$Exists) {
    # Warnings of Set-ClusterParameter reach the result's warnings (the dispatcher collects them).
    if ($null -eq $Value) {
        if ($Exists) {
            Set-ClusterParameter -InputObject $LockHome -Name $Name -Delete -ErrorAction Stop
        }
    }
    elseif ($Exists) {
        Set-ClusterParameter -InputObject $LockHome -Name $Name -Value ([string]$Value) -ErrorAction Stop
    }
    else {
        Set-ClusterParameter -InputObject $LockHome -Name $Name -Value ([string]$Value) -Create -ErrorAction Stop
    }
}

function Get-WsfcClaimToken($Params) {
    $token = [string]$Params.claim
    if ($token -notmatch '^[A-Za-z0-9-]{1,80}$') {
        throw "Invalid lock claim token '$token'."
    }
    return $token
}

function Get-WsfcFreshClaims($LockHome, [int]$StaleSeconds) {
    # The claims younger than $StaleSeconds (older ones belong to contenders that died mid-way and
    # are removed), as token -> claim object.
    $now = (Get-Date).ToUniversalTime()
    $fresh = @{}
    $all = Get-WsfcLockProperties $LockHome 'WsfcRollingClaim-'
    foreach ($name in @($all.Keys)) {
        $claim = $null
        try {
            $claim = ConvertFrom-Json -InputObject $all[$name]
            $at = [datetime]::Parse([string]$claim.at, [System.Globalization.CultureInfo]::InvariantCulture,
                [System.Globalization.DateTimeStyles]::RoundtripKind).ToUniversalTime()
        }
        catch {
            $at = [datetime]::MinValue
        }
        if (($now - $at).TotalSeconds -gt $StaleSeconds) {
            Set-WsfcLockProperty $LockHome $name $null $true
            continue
        }
        $fresh[$name.Substring('WsfcRollingClaim-'.Length)] = $claim
    }
    return $fresh
}

function ConvertTo-WsfcClaimText([string]$RunId, [string]$Owner, $Ticket) {
    $claim = @{ run_id = $RunId; owner = $Owner; ticket = $Ticket; at = ConvertTo-WsfcDate (Get-Date) }
    return ConvertTo-Json -InputObject $claim -Compress
}

$WsfcOperations['lock.read'] = {
    param($p)
    [ordered]@{ Value = Get-WsfcLockValue (Get-WsfcLockHome); Now = ConvertTo-WsfcDate (Get-Date) }
}

$WsfcOperations['lock.claim'] = {
    param($p)
    # Bakery entry: claim without a ticket, read every claim, claim with the next ticket. Also reads
    # the lock, which the controller decides on.
    $lockHome = Get-WsfcLockHome
    $token = Get-WsfcClaimToken $p
    $stale = [int](Get-WsfcParam $p 'stale_seconds' 120)
    $name = "WsfcRollingClaim-$token"
    $runId = [string]$p.run_id
    $owner = [string]$p.owner
    Set-WsfcLockProperty $lockHome $name (ConvertTo-WsfcClaimText $runId $owner $null) $false
    $highest = 0
    $claims = Get-WsfcFreshClaims $lockHome $stale
    foreach ($claim in @($claims.Values)) {
        if ($null -ne $claim.ticket -and [int]$claim.ticket -gt $highest) {
            $highest = [int]$claim.ticket
        }
    }
    $ticket = $highest + 1
    Set-WsfcLockProperty $lockHome $name (ConvertTo-WsfcClaimText $runId $owner $ticket) $true
    [ordered]@{ Ticket = $ticket; Value = Get-WsfcLockValue $lockHome; Now = ConvertTo-WsfcDate (Get-Date) }
}

$WsfcOperations['lock.unclaim'] = {
    param($p)
    $lockHome = Get-WsfcLockHome
    $name = 'WsfcRollingClaim-' + (Get-WsfcClaimToken $p)
    $exists = (Get-WsfcLockProperties $lockHome $name).ContainsKey($name)
    Set-WsfcLockProperty $lockHome $name $null $exists
    [ordered]@{ Withdrawn = $exists }
}

$WsfcOperations['lock.cas'] = {
    param($p)
    # Set the lock to 'value' if it is 'expect'. With a claim, only once the claim entered (see the
    # top of this file); the claim is removed once it entered or lost. Outcome: Done, Busy (another
    # contender is choosing its ticket: ask again), Lost (Holder: the claim that goes first) or
    # ClaimLost (the claim went stale before it entered).
    $lockHome = Get-WsfcLockHome
    $expect = Get-WsfcParam $p 'expect' $null
    $value = Get-WsfcParam $p 'value' $null
    $outcome = 'Done'
    $holder = $null
    $token = $null
    if ($null -ne (Get-WsfcParam $p 'claim' $null)) {
        $token = Get-WsfcClaimToken $p
        $claims = Get-WsfcFreshClaims $lockHome ([int](Get-WsfcParam $p 'stale_seconds' 120))
        $mine = $claims[$token]
        if ($null -eq $mine -or $null -eq $mine.ticket) {
            $outcome = 'ClaimLost'
        }
        else {
            foreach ($other in @($claims.Keys | Where-Object { $_ -ne $token })) {
                $claim = $claims[$other]
                if ($null -eq $claim.ticket) {
                    $outcome = 'Busy'
                }
                elseif ($outcome -ne 'Busy' -and ([int]$claim.ticket -lt [int]$mine.ticket -or
                        ([int]$claim.ticket -eq [int]$mine.ticket -and [string]::CompareOrdinal($other, $token) -lt 0))) {
                    $outcome = 'Lost'
                    $holder = [ordered]@{ run_id = [string]$claim.run_id; owner = [string]$claim.owner }
                }
            }
        }
    }
    $current = Get-WsfcLockValue $lockHome
    $swapped = $false
    if ($outcome -eq 'Done' -and $current -eq $expect) {
        Set-WsfcLockProperty $lockHome 'WsfcRollingLock' $value ($null -ne $current)
        $swapped = $true
        $current = $value
    }
    if ($null -ne $token -and ($outcome -eq 'Done' -or $outcome -eq 'Lost')) {
        Set-WsfcLockProperty $lockHome "WsfcRollingClaim-$token" $null $true
    }
    [ordered]@{ Swapped = $swapped; Value = $current; Now = ConvertTo-WsfcDate (Get-Date); Outcome = $outcome; Holder = $holder }
}

# The rolling upgrade's node configuration captures, kept beside the run lock as private properties of the
# cluster object (one per node, 'WsfcRollingCapture-<NODE>'): the cluster database replicates them to every
# node, so a re-run from another controller (a fresh AWX execution environment) finds them.
function Get-WsfcCaptureName($Params) {
    $node = [string]$Params.node
    if ($node -notmatch '^[A-Za-z0-9-]{1,63}$') {
        throw "Invalid node name '$node'."
    }
    return 'WsfcRollingCapture-' + $node.ToUpperInvariant()
}

$WsfcOperations['capture.read'] = {
    param($p)
    $name = Get-WsfcCaptureName $p
    $all = Get-WsfcLockProperties (Get-WsfcLockHome) $name
    $value = $null
    if ($all.ContainsKey($name)) {
        $value = $all[$name]
    }
    [ordered]@{ Value = $value }
}

$WsfcOperations['capture.write'] = {
    param($p)
    $lockHome = Get-WsfcLockHome
    $name = Get-WsfcCaptureName $p
    $exists = (Get-WsfcLockProperties $lockHome $name).ContainsKey($name)
    Set-WsfcLockProperty $lockHome $name ([string]$p.value) $exists
    [ordered]@{ Written = $true }
}
