// Every user-facing string of the page, in English and Korean, and the functions that pick
// one in the page's language. Plain ES module, no build step.

export const TEXT = {
  en: {
    skip: "Skip to content",
    language: "Language",
    signOut: "Sign out",
    signInTitle: "Sign in",
    signInHelp: "This page needs a token. On the machine that runs pixelmotion, print one with:",
    signInHelp2:
      "Then open this page as /?token=YOUR_TOKEN (make run prints that address), or paste the token here:",
    tokenLabel: "Token",
    signIn: "Sign in",
    tokenRefused: "The token was refused (it may have expired). Sign in with a new one.",
    createTitle: "New animation",
    sourceLabel: "Start from",
    sourcePrompt: "A prompt (AI video)",
    sourceVideo: "My own video",
    videoLabel: "Video file",
    videoHint: "MP4, MOV, WebM or MKV. Pixelated as it is: no AI model, no waiting.",
    pixelate: "Pixelate Video",
    uploading: "Uploading video...",
    invalidVideo: "Choose a video file.",
    promptLabel: "Prompt",
    promptPlaceholder: "a knight swinging a sword",
    promptHint: "Describe the motion. 3 to 5000 characters. Ctrl+Enter generates.",
    sizeLabel: "Canvas size",
    custom: "Custom",
    width: "Width",
    height: "Height",
    colorsLabel: "Colours",
    fpsLabel: "Frames per second",
    ditherLabel: "Dither",
    ditherNone: "None",
    ditherBayer: "Ordered (Bayer)",
    ditherFloyd: "Floyd–Steinberg",
    fitLabel: "Fit",
    fitCrop: "Crop",
    fitContain: "Contain",
    fitStretch: "Stretch",
    generate: "Generate Animation",
    starting: "Starting...",
    progressTitle: "Progress",
    cancel: "Cancel",
    resultTitle: "Result",
    stageLabel: "Animation preview: Space plays or pauses, arrows step, + and - zoom, O onion skin",
    playerControls: "Player controls",
    prevFrame: "Previous frame",
    nextFrame: "Next frame",
    play: "Play",
    pause: "Pause",
    zoom: "Zoom",
    onion: "Onion skin",
    downloads: "Download",
    downloadGif: "GIF",
    downloadSheet: "Sprite sheet (PNG)",
    downloadSheetJson: "Sheet JSON",
    downloadFrames: "Frames JSON",
    historyTitle: "Your animations",
    historyEmpty: "Nothing yet: your animations show here.",
    showMore: "Show more",
    open: "Open",
    openJob: (prompt) => `Open: ${prompt}`,
    show: "Show",
    dismiss: "Dismiss",
    status: {
      pending: "Waiting",
      queued: "Queued",
      dreaming: "Generating",
      processing: "Processing",
      completed: "Completed",
      failed: "Failed",
      canceled: "Canceled",
    },
    messages: {
      pending: "Waiting to start...",
      queued: "Queued...",
      dreaming: "AI generating... (1-2 min)",
      downloading: "Downloading clip...",
      extracting: "Extracting frames...",
      palette: "Building palette...",
      saving: "Saving results...",
      done: "Done!",
      loadingFrames: "Loading frames...",
    },
    failedWith: (message) => `Failed: ${message}`,
    inLine: (message, position) => `${message} (#${position} in line)`,
    elapsed: (elapsed, estimate) => `Elapsed ${elapsed} · estimate about ${estimate}`,
    took: (elapsed) => `Took ${elapsed}`,
    resultInfo: ({ width, height, frames, fps, colors }) =>
      `${width}×${height} · ${frames} frames · ${fps} fps · ${colors} colours`,
    canvasLabel: (width, height, frames) => `${width}×${height} pixel-art animation, ${frames} frames`,
    meta: ({ width, height, fps, when }) => `${width}×${height} · ${fps} fps · ${when}`,
    toastDone: "Your animation is ready",
    toastFailed: "The generation failed",
    toastCanceled: "The generation was canceled",
    toastError: "Something went wrong",
    downloadFailed: "The download failed",
    framesFailed: "The frames could not be loaded",
    invalidPrompt: "The prompt must be 3 to 5000 characters.",
    invalidSize: "Width and height must be whole numbers from 8 to 512.",
    invalidColors: "Colours must be a whole number from 2 to 256.",
  },
  ko: {
    skip: "본문으로 건너뛰기",
    language: "언어",
    signOut: "로그아웃",
    signInTitle: "로그인",
    signInHelp: "이 페이지를 쓰려면 토큰이 필요합니다. pixelmotion을 실행하는 컴퓨터에서 다음 명령으로 토큰을 출력하세요:",
    signInHelp2:
      "그다음 이 페이지를 /?token=토큰 주소로 열거나(make run이 이 주소를 출력합니다), 여기에 토큰을 붙여 넣으세요:",
    tokenLabel: "토큰",
    signIn: "로그인",
    tokenRefused: "토큰이 거부되었습니다(만료되었을 수 있습니다). 새 토큰으로 다시 로그인하세요.",
    createTitle: "새 애니메이션",
    sourceLabel: "시작 방법",
    sourcePrompt: "프롬프트 (AI 영상)",
    sourceVideo: "내 영상",
    videoLabel: "영상 파일",
    videoHint: "MP4, MOV, WebM, MKV. AI 모델 없이 그대로 픽셀화합니다.",
    pixelate: "영상 픽셀화",
    uploading: "영상 올리는 중...",
    invalidVideo: "영상 파일을 고르세요.",
    promptLabel: "프롬프트",
    promptPlaceholder: "검을 휘두르는 기사",
    promptHint: "움직임을 설명하세요. 3~5000자. Ctrl+Enter로 생성합니다.",
    sizeLabel: "캔버스 크기",
    custom: "직접 입력",
    width: "너비",
    height: "높이",
    colorsLabel: "색상 수",
    fpsLabel: "초당 프레임",
    ditherLabel: "디더링",
    ditherNone: "없음",
    ditherBayer: "규칙 디더링 (Bayer)",
    ditherFloyd: "Floyd–Steinberg",
    fitLabel: "맞춤",
    fitCrop: "잘라내기",
    fitContain: "전체 보이기",
    fitStretch: "늘리기",
    generate: "애니메이션 생성",
    starting: "시작하는 중...",
    progressTitle: "진행 상황",
    cancel: "취소",
    resultTitle: "결과",
    stageLabel: "애니메이션 미리보기: 스페이스로 재생/일시정지, 화살표로 프레임 이동, +와 -로 확대/축소, O로 어니언 스킨",
    playerControls: "재생 컨트롤",
    prevFrame: "이전 프레임",
    nextFrame: "다음 프레임",
    play: "재생",
    pause: "일시정지",
    zoom: "확대",
    onion: "어니언 스킨",
    downloads: "다운로드",
    downloadGif: "GIF",
    downloadSheet: "스프라이트 시트 (PNG)",
    downloadSheetJson: "시트 JSON",
    downloadFrames: "프레임 JSON",
    historyTitle: "내 애니메이션",
    historyEmpty: "아직 없습니다. 만든 애니메이션이 여기에 표시됩니다.",
    showMore: "더 보기",
    open: "열기",
    openJob: (prompt) => `열기: ${prompt}`,
    show: "보기",
    dismiss: "닫기",
    status: {
      pending: "대기 중",
      queued: "대기열",
      dreaming: "생성 중",
      processing: "처리 중",
      completed: "완료",
      failed: "실패",
      canceled: "취소됨",
    },
    messages: {
      pending: "시작 대기 중...",
      queued: "대기열 추가됨...",
      dreaming: "AI 생성 중... (1-2분)",
      downloading: "영상 내려받는 중...",
      extracting: "프레임 추출 중...",
      palette: "팔레트 만드는 중...",
      saving: "결과 저장 중...",
      done: "완료!",
      loadingFrames: "프레임 불러오는 중...",
    },
    inLine: (message, position) => `${message} (대기 순서 ${position}번)`,
    failedWith: (message) => `실패: ${message}`,
    elapsed: (elapsed, estimate) => `경과 ${elapsed} · 예상 약 ${estimate}`,
    took: (elapsed) => `걸린 시간 ${elapsed}`,
    resultInfo: ({ width, height, frames, fps, colors }) =>
      `${width}×${height} · 프레임 ${frames}개 · ${fps}fps · 색상 ${colors}개`,
    canvasLabel: (width, height, frames) => `${width}×${height} 픽셀 아트 애니메이션, 프레임 ${frames}개`,
    meta: ({ width, height, fps, when }) => `${width}×${height} · ${fps}fps · ${when}`,
    toastDone: "애니메이션이 준비되었습니다",
    toastFailed: "생성에 실패했습니다",
    toastCanceled: "생성이 취소되었습니다",
    toastError: "문제가 생겼습니다",
    downloadFailed: "다운로드에 실패했습니다",
    framesFailed: "프레임을 불러오지 못했습니다",
    invalidPrompt: "프롬프트는 3~5000자여야 합니다.",
    invalidSize: "너비와 높이는 8~512 사이의 정수여야 합니다.",
    invalidColors: "색상 수는 2~256 사이의 정수여야 합니다.",
  },
};

// The server's progress messages (jobs/states.py), by what they mean.
const SERVER_MESSAGES = {
  "Waiting to start...": "pending",
  "Queued...": "queued",
  "AI generating... (1-2 min)": "dreaming",
  "Downloading clip...": "downloading",
  "Extracting frames...": "extracting",
  "Building palette...": "palette",
  "Saving results...": "saving",
  "Done!": "done",
};
const STATUS_MESSAGES = {
  pending: "pending",
  queued: "queued",
  dreaming: "dreaming",
  processing: "extracting",
  completed: "done",
};

let language = "en";

/** The page's language ("en" or "ko"). */
export function currentLanguage() {
  return language;
}

/** Switch the language; one we have no texts for falls back to English. Returns the one set. */
export function setLanguage(lang) {
  language = TEXT[lang] ? lang : "en";
  return language;
}

export function t(key, ...args) {
  const value = TEXT[language]?.[key] ?? TEXT.en[key];
  return typeof value === "function" ? value(...args) : value;
}

export function statusLabel(status) {
  return (TEXT[language].status ?? TEXT.en.status)[status] ?? status;
}

export function messageFor(job) {
  if (job.status === "failed") return t("failedWith", job.error?.message || job.progressMessage || "");
  if (job.status === "canceled") return statusLabel("canceled");
  const key = SERVER_MESSAGES[job.progressMessage] ?? STATUS_MESSAGES[job.status];
  const messages = TEXT[language].messages;
  const message = (key && messages[key]) || job.progressMessage || statusLabel(job.status);
  // Waiting for the provider account's limits: say where the job stands in line.
  return job.status === "pending" && job.queuePosition ? t("inLine", message, job.queuePosition) : message;
}
