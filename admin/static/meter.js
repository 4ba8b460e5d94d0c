// One WebAudio analyser on what a page hears: the level meter and the frequency probe the
// browser tests read. Shared by the dev (WebRTC) and LiveKit transports.
(function () {
  "use strict";
  window.callcenterMeter = function (ctx) {
    var analyser = ctx.createAnalyser();
    analyser.fftSize = 4096;
    var time = new Float32Array(analyser.fftSize);
    var freq = new Float32Array(analyser.frequencyBinCount);
    return {
      analyser: analyser,
      level: function () {
        analyser.getFloatTimeDomainData(time);
        var sum = 0;
        for (var i = 0; i < time.length; i++) sum += time[i] * time[i];
        return Math.sqrt(sum / time.length);
      },
      dominantHz: function () {
        analyser.getFloatFrequencyData(freq);
        var best = 1, bestDb = -Infinity;
        for (var i = 1; i < freq.length; i++) if (freq[i] > bestDb) { bestDb = freq[i]; best = i; }
        return best * ctx.sampleRate / analyser.fftSize;
      },
    };
  };
})();
