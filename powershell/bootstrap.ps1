# wsfc.rolling rpc bootstrap 2
# Reads the shim from stdin up to the separator line, then runs one request per line as each arrives, until
# stdin ends. One request then the end of stdin is one round trip in one process; more lines make a warm
# process that pays for powershell.exe and the FailoverClusters module once.
$ErrorActionPreference = 'Stop'
$wsfcIn = [Console]::In
$wsfcText = New-Object System.Text.StringBuilder
while ($true) {
    $wsfcLine = $wsfcIn.ReadLine()
    if ($null -eq $wsfcLine) {
        [Console]::Error.WriteLine('wsfc.rolling bootstrap: no request separator on stdin')
        exit 2
    }
    if ($wsfcLine.Trim() -eq '#wsfc-rpc-request#') {
        break
    }
    [void]$wsfcText.Append($wsfcLine).Append("`n")
}
$wsfcShimText = $wsfcText.ToString()
$wsfcShim = [scriptblock]::Create($wsfcShimText)
while ($null -ne ($wsfcLine = $wsfcIn.ReadLine())) {
    if ($wsfcLine.Trim() -ne '') {
        & $wsfcShim -EncodedRequest $wsfcLine.Trim() -ShimText $wsfcShimText
    }
}
exit 0
