// UI strings of every page, zh-CN first (the working language of the offices), English second.
// Words follow the glossary of DOMAIN.md §9. `t(key, vars)` looks a key up in the current language and
// fills `{name}` placeholders; a key missing from English falls back to Chinese, then to the key itself.

const STORAGE_KEY = 'roadledger.lang';
export const LANGS = ['zh-CN', 'en'];

const zh = {
  'app.name': 'RoadLedger',
  'app.tagline': '农村道路隐患排查台账',
  'nav.map': '隐患地图',
  'nav.inspect': '巡查录入',
  'lang.other': 'English',
  'lang.otherTitle': 'Switch to English',
  'common.loading': '正在加载…',
  'common.none': '—',
  'common.close': '关闭',
  'common.delete': '删除',
  'common.error': '出错了：{detail}',
  'common.networkError': '网络不可用或服务器无响应',

  'status.reported': '已上报',
  'status.verified': '已核实',
  'status.rejected': '已驳回',
  'status.duplicate': '重复',
  'status.assigned': '已派单',
  'status.in_progress': '整改中',
  'status.pending_review': '待审核',
  'status.closed': '已销号',
  'status.reopened': '已反弹',
  'status.cancelled': '已撤销',

  'kind.intersection': '路口',
  'kind.section': '路段',
  'kind.spot': '隐患点',
  'kindLong.intersection': '平交路口',
  'kindLong.section': '路段',
  'kindLong.spot': '重点隐患点',

  'item.missing': '缺失',
  'item.damaged': '损坏',
  'item.installed': '已设置',
  'item.verified': '已验收',
  'item.not_applicable': '不适用',
  'item.unchecked': '未检查',

  'group.intersection': '路口',
  'group.section': '路段',
  'group.roadside': '路侧占道',
  'group.stop': '停靠站',
  'group.work_zone': '施工作业区',

  'level.general': '一般',
  'level.significant': '较大',
  'level.major': '重大',

  'supervision.none': '无',
  'supervision.town': '区镇挂牌',
  'supervision.county': '市(县)级挂牌',
  'supervision.prefecture': '地市级挂牌',
  'supervision.province': '省级挂牌',

  'source.patrol': '日常巡查',
  'source.citizen_photo': '随手拍',
  'source.hotline': '热线 12345/122',
  'source.crash_analysis': '事故分析',
  'source.drone': '无人机巡查',
  'source.smart_patrol': '智慧巡检',
  'source.leadership_inspection': '领导督查',
  'source.other_department': '部门移交',

  'event.opened': '建账（首次上报）',
  'event.observed': '复查记录',
  'event.verified': '核实',
  'event.rejected': '驳回',
  'event.merged': '合并为重复',
  'event.assigned': '派单',
  'event.accepted': '接单整改',
  'event.extension_requested': '申请延期',
  'event.extension_approved': '同意延期',
  'event.extension_denied': '不同意延期',
  'event.closeout_requested': '申请销号',
  'event.returned': '退回整改',
  'event.closed': '审核通过，销号',
  'event.lookback_passed': '回头看通过',
  'event.relapsed': '回头看发现反弹',
  'event.reopened': '重新打开',
  'event.cancelled': '撤销',

  'notFound.title': '找不到这个页面',
  'notFound.hint': '地址可能有误，或页面已移动。请从地图或巡查录入页面继续。',
  'notFound.home': '返回隐患地图',

  // Map page
  'map.title': '隐患地图',
  'map.legend': '点位状态',
  'map.legendHint': '点击状态可显示或隐藏',
  'map.total': '合计',
  'map.inView': '当前视图 {n} 个点位',
  'map.truncated': '当前视图点位过多，仅显示前 {n} 个，请放大地图',
  'map.zoomedOut': '视图范围过大，仅加载地图中心附近的点位',
  'map.loadError': '点位加载失败：{detail}',
  'map.roads': '道路',
  'map.road.G': '国道',
  'map.road.S': '省道',
  'map.road.X': '县道',
  'map.road.YC': '乡道 / 村道',
  'map.overdue': '超期（黑色外圈）',
  'map.section': '路段（线）',
  'map.point': '路口 / 隐患点（圆点）',

  'panel.kind': '类型',
  'panel.status': '状态',
  'panel.town': '区镇',
  'panel.road': '道路 / 桩号',
  'panel.hazardTypes': '隐患类型',
  'panel.hazardLevel': '隐患等级',
  'panel.deadline': '整改时限',
  'panel.overdue': '已超期',
  'panel.supervision': '挂牌督办',
  'panel.source': '来源',
  'panel.firstObserved': '首次发现',
  'panel.observationCount': '排查次数',
  'panel.checklist': '检查清单',
  'panel.checklistSummary': '{template}：到位 {done}',
  'panel.required': '必备',
  'panel.nightEvidence': '需夜间照片或视频',
  'panel.night': '夜间',
  'panel.quantity': '数量 {q}',
  'panel.observations': '排查记录',
  'panel.observationsMore': '共 {n} 次，显示最近 {m} 次',
  'panel.accuracy': '定位精度 ±{m} 米',
  'panel.noPhotos': '无照片',
  'panel.openPhoto': '在新标签页查看原图',
  'panel.events': '处理过程',
  'panel.noEvents': '暂无记录',
  'panel.loadError': '点位详情加载失败：{detail}',
  'panel.duplicateOf': '与另一点位重复',

  // Inspector page
  'inspect.title': '巡查录入',
  'inspect.location': '位置',
  'inspect.locating': '正在定位…',
  'inspect.accuracy': '精度 ±{m} 米',
  'inspect.accuracyShort': '±{m} 米',
  'inspect.accuracyPoor': '精度较差，建议到开阔处稍候',
  'inspect.useLocation': '使用此位置',
  'inspect.locationSet': '已使用此位置',
  'inspect.relocate': '重新定位',
  'inspect.setStart': '设为起点',
  'inspect.setEnd': '设为终点',
  'inspect.start': '起点',
  'inspect.end': '终点',
  'inspect.notSet': '未设置',
  'inspect.geoDenied': '无法获取位置：请在浏览器设置中允许本页面使用定位',
  'inspect.geoUnavailable': '暂时无法获取位置（{detail}），请稍候或到开阔处',
  'inspect.geoUnsupported': '此浏览器不支持定位',
  'inspect.insecure': '定位需要通过 HTTPS 打开本页面，请联系管理员',
  'inspect.kind': '点位类型',
  'inspect.hazards': '隐患类型',
  'inspect.checklist': '检查清单：{name}',
  'inspect.road': '道路编号',
  'inspect.roadPlaceholder': '如 X202',
  'inspect.stake': '桩号',
  'inspect.stakePlaceholder': '如 K12+300',
  'inspect.notes': '备注',
  'inspect.notesPlaceholder': '现场情况、需要说明的事项',
  'inspect.inspector': '巡查员',
  'inspect.inspectorPlaceholder': '姓名',
  'inspect.photos': '照片',
  'inspect.addPhotos': '拍照 / 选择照片',
  'inspect.photoCount': '已选 {n} 张（最多 {max} 张）',
  'inspect.photoN': '{n} 张照片',
  'inspect.submit': '提交',
  'inspect.sending': '正在提交…',
  'inspect.success': '已提交：{code}',
  'inspect.opened': '新建隐患点位',
  'inspect.joined': '并入已有点位（第 {n} 次排查）',
  'inspect.viewOnMap': '在地图上查看',
  'inspect.queued': '网络不可用，记录已保存到待发送队列，联网后自动发送',
  'inspect.error': '提交失败：{detail}',
  'inspect.needLocation': '还没有位置：请等待定位，或点“使用此位置”',
  'inspect.needStartEnd': '路段需要起点和终点：走到起点点“设为起点”，走到终点点“设为终点”',
  'inspect.sameStartEnd': '起点和终点相同，请到路段另一端再设终点',
  'inspect.badRoad': '道路编号应为 G、S、X、Y、C、Z 加三位数字，如 X202',
  'inspect.badStake': '桩号格式如 K12+300',
  'inspect.photoTooLarge': '照片 {name} 超过 {mb} MB，无法上传',
  'inspect.photoType': '照片 {name} 不是 JPEG 或 PNG',
  'inspect.tooManyPhotos': '最多 {max} 张照片',
  'inspect.outbox': '待发送 {n} 条',
  'inspect.outboxEmpty': '没有待发送的记录',
  'inspect.outboxTitle': '待发送队列',
  'inspect.outboxSent': '待发送记录已发送：{code}',
  'inspect.outboxRejected': '被服务器拒绝：{detail}',
  'inspect.outboxWaiting': '等待网络',
  'inspect.outboxRetry': '立即重试',
  'inspect.outboxEdit': '取回修改',
  'inspect.offline': '当前离线',
  'inspect.storageError': '无法保存到本机（{detail}），请勿关闭页面',
};

const en = {
  'app.tagline': 'Rural road hazard ledger',
  'nav.map': 'Hazard map',
  'nav.inspect': 'Survey',
  'lang.other': '中文',
  'lang.otherTitle': '切换到中文',
  'common.loading': 'Loading…',
  'common.close': 'Close',
  'common.delete': 'Delete',
  'common.error': 'Something went wrong: {detail}',
  'common.networkError': 'No network, or the server does not answer',

  'status.reported': 'Reported',
  'status.verified': 'Verified',
  'status.rejected': 'Rejected',
  'status.duplicate': 'Duplicate',
  'status.assigned': 'Dispatched',
  'status.in_progress': 'In remediation',
  'status.pending_review': 'Pending review',
  'status.closed': 'Closed out',
  'status.reopened': 'Reopened (relapse)',
  'status.cancelled': 'Cancelled',

  'kind.intersection': 'Intersection',
  'kind.section': 'Road section',
  'kind.spot': 'Hazard spot',
  'kindLong.intersection': 'At-grade intersection',
  'kindLong.section': 'Road section',
  'kindLong.spot': 'Key hazard spot',

  'item.missing': 'Missing',
  'item.damaged': 'Damaged',
  'item.installed': 'Installed',
  'item.verified': 'Verified',
  'item.not_applicable': 'Not applicable',
  'item.unchecked': 'Not checked',

  'group.intersection': 'Intersection',
  'group.section': 'Road section',
  'group.roadside': 'Roadside',
  'group.stop': 'Stops',
  'group.work_zone': 'Work zone',

  'level.general': 'General',
  'level.significant': 'Significant',
  'level.major': 'Major',

  'supervision.none': 'None',
  'supervision.town': 'Town',
  'supervision.county': 'County',
  'supervision.prefecture': 'Prefecture',
  'supervision.province': 'Province',

  'source.patrol': 'Patrol',
  'source.citizen_photo': 'Citizen photo report',
  'source.hotline': 'Hotline 12345/122',
  'source.crash_analysis': 'Crash analysis',
  'source.drone': 'Drone',
  'source.smart_patrol': 'Smart patrol',
  'source.leadership_inspection': 'Leadership inspection',
  'source.other_department': 'Other department',

  'event.opened': 'Opened (first report)',
  'event.observed': 'Repeat visit',
  'event.verified': 'Verified',
  'event.rejected': 'Rejected',
  'event.merged': 'Merged as duplicate',
  'event.assigned': 'Dispatched',
  'event.accepted': 'Accepted for remediation',
  'event.extension_requested': 'Extension requested',
  'event.extension_approved': 'Extension approved',
  'event.extension_denied': 'Extension denied',
  'event.closeout_requested': 'Close-out requested',
  'event.returned': 'Returned for remediation',
  'event.closed': 'Approved, closed out',
  'event.lookback_passed': 'Look-back passed',
  'event.relapsed': 'Relapse found at look-back',
  'event.reopened': 'Reopened',
  'event.cancelled': 'Cancelled',

  'notFound.title': 'Page not found',
  'notFound.hint': 'The address may be wrong, or the page has moved. Carry on from the map or the survey page.',
  'notFound.home': 'Back to the hazard map',

  'map.title': 'Hazard map',
  'map.legend': 'Site status',
  'map.legendHint': 'Click a status to show or hide it',
  'map.total': 'Total',
  'map.inView': '{n} sites in view',
  'map.truncated': 'Too many sites in view: showing the first {n}; zoom in',
  'map.zoomedOut': 'The view is too large: only sites near the centre are loaded',
  'map.loadError': 'Sites could not be loaded: {detail}',
  'map.roads': 'Roads',
  'map.road.G': 'National',
  'map.road.S': 'Provincial',
  'map.road.X': 'County',
  'map.road.YC': 'Township / village',
  'map.overdue': 'Overdue (black ring)',
  'map.section': 'Road section (line)',
  'map.point': 'Intersection / spot (dot)',

  'panel.kind': 'Kind',
  'panel.status': 'Status',
  'panel.town': 'Town',
  'panel.road': 'Road / stake',
  'panel.hazardTypes': 'Hazard types',
  'panel.hazardLevel': 'Hazard level',
  'panel.deadline': 'Remediation deadline',
  'panel.overdue': 'Overdue',
  'panel.supervision': 'Listed supervision',
  'panel.source': 'Source',
  'panel.firstObserved': 'First observed',
  'panel.observationCount': 'Visits',
  'panel.checklist': 'Checklist',
  'panel.checklistSummary': '{template}: {done} in place',
  'panel.required': 'required',
  'panel.nightEvidence': 'needs a night photo or video',
  'panel.night': 'night',
  'panel.quantity': 'quantity {q}',
  'panel.observations': 'Observations',
  'panel.observationsMore': '{n} in all, the latest {m} shown',
  'panel.accuracy': 'accuracy ±{m} m',
  'panel.noPhotos': 'No photos',
  'panel.openPhoto': 'Open the full photo in a new tab',
  'panel.events': 'History',
  'panel.noEvents': 'Nothing yet',
  'panel.loadError': 'The site could not be loaded: {detail}',
  'panel.duplicateOf': 'Duplicate of another site',

  'inspect.title': 'Survey',
  'inspect.location': 'Location',
  'inspect.locating': 'Locating…',
  'inspect.accuracy': 'accuracy ±{m} m',
  'inspect.accuracyShort': '±{m} m',
  'inspect.accuracyPoor': 'Poor accuracy: wait a moment in the open',
  'inspect.useLocation': 'Use this location',
  'inspect.locationSet': 'Location set',
  'inspect.relocate': 'Locate again',
  'inspect.setStart': 'Set start',
  'inspect.setEnd': 'Set end',
  'inspect.start': 'Start',
  'inspect.end': 'End',
  'inspect.notSet': 'not set',
  'inspect.geoDenied': 'No location: allow this page to use your location in the browser settings',
  'inspect.geoUnavailable': 'No location yet ({detail}); wait a moment or move into the open',
  'inspect.geoUnsupported': 'This browser cannot tell its location',
  'inspect.insecure': 'Location needs this page to be opened over HTTPS; ask the administrator',
  'inspect.kind': 'Kind of site',
  'inspect.hazards': 'Hazard types',
  'inspect.checklist': 'Checklist: {name}',
  'inspect.road': 'Road code',
  'inspect.roadPlaceholder': 'e.g. X202',
  'inspect.stake': 'Stake',
  'inspect.stakePlaceholder': 'e.g. K12+300',
  'inspect.notes': 'Notes',
  'inspect.notesPlaceholder': 'What you saw, anything to explain',
  'inspect.inspector': 'Inspector',
  'inspect.inspectorPlaceholder': 'Name',
  'inspect.photos': 'Photos',
  'inspect.addPhotos': 'Take or choose photos',
  'inspect.photoCount': '{n} chosen (at most {max})',
  'inspect.photoN': '{n} photos',
  'inspect.submit': 'Submit',
  'inspect.sending': 'Sending…',
  'inspect.success': 'Sent: {code}',
  'inspect.opened': 'opened a new site',
  'inspect.joined': 'joined an existing site (visit {n})',
  'inspect.viewOnMap': 'View on the map',
  'inspect.queued': 'No network: saved to the outbox; it will be sent automatically when online',
  'inspect.error': 'Not accepted: {detail}',
  'inspect.needLocation': 'No location yet: wait for a fix, or press "Use this location"',
  'inspect.needStartEnd': 'A road section needs a start and an end: press "Set start" at one end and "Set end" at the other',
  'inspect.sameStartEnd': 'Start and end are the same place: set the end at the other end of the section',
  'inspect.badRoad': 'A road code is G, S, X, Y, C or Z and three digits, e.g. X202',
  'inspect.badStake': 'A stake looks like K12+300',
  'inspect.photoTooLarge': 'Photo {name} is larger than {mb} MB and cannot be sent',
  'inspect.photoType': 'Photo {name} is not a JPEG or PNG',
  'inspect.tooManyPhotos': 'At most {max} photos',
  'inspect.outbox': 'Outbox: {n}',
  'inspect.outboxEmpty': 'Nothing waiting to be sent',
  'inspect.outboxTitle': 'Outbox',
  'inspect.outboxSent': 'Sent from the outbox: {code}',
  'inspect.outboxRejected': 'Refused by the server: {detail}',
  'inspect.outboxWaiting': 'Waiting for the network',
  'inspect.outboxRetry': 'Retry now',
  'inspect.outboxEdit': 'Edit',
  'inspect.offline': 'Offline',
  'inspect.storageError': 'Cannot save on this phone ({detail}); keep this page open',
};

const DICTIONARIES = { 'zh-CN': zh, en };

let current = (() => {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(stored)) return stored;
  } catch {
    // Storage can be disabled (private mode); the default language still works.
  }
  return 'zh-CN';
})();

const listeners = new Set();

export function lang() {
  return current;
}

export function isEnglish() {
  return current === 'en';
}

/** Switches the language, remembers it, and tells every listener (which re-render their part). */
export function setLang(next) {
  if (!LANGS.includes(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered; still switched for this page.
  }
  document.documentElement.lang = next;
  applyStatic();
  for (const listener of listeners) listener(next);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/** The string for `key` with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const text = DICTIONARIES[current][key] ?? zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** A key that may be unknown (codes from the server): the translation, or the code itself. */
export function tCode(prefix, code) {
  if (code == null) return t('common.none');
  const key = `${prefix}.${code}`;
  return DICTIONARIES[current][key] ?? zh[key] ?? code;
}

/** Chinese or English name of a reference row ({name, name_en}). */
export function localName(row) {
  if (!row) return '';
  if (isEnglish() && row.name_en) return row.name_en.charAt(0).toUpperCase() + row.name_en.slice(1);
  return row.name || '';
}

/**
 * Dates and times as `2026-11-30 09:15` in China Standard Time, whatever the device's zone: an office
 * reading an inspector's record must see the time on the inspector's watch.
 */
export function formatDateTime(iso) {
  if (!iso) return t('common.none');
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(d).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

export function formatDate(isoDate) {
  if (!isoDate) return t('common.none');
  return isoDate.slice(0, 10);
}

/** Fills elements marked with data-i18n (text), data-i18n-placeholder, data-i18n-title, data-i18n-aria. */
export function applyStatic(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

/** Wires a button that switches between the two languages. */
export function mountLangSwitch(button) {
  const render = () => {
    button.textContent = t('lang.other');
    button.title = t('lang.otherTitle');
    button.lang = isEnglish() ? 'zh-CN' : 'en';
  };
  button.addEventListener('click', () => setLang(isEnglish() ? 'zh-CN' : 'en'));
  onLangChange(render);
  render();
}

document.documentElement.lang = current;
