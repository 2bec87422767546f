# wsfc.rolling rpc bootstrap 1
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
