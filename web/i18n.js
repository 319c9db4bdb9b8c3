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
  'inspect.inspectorLabel': '巡查员：',
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
  'inspect.settings': '设置',
  'inspect.apiToken': 'API 令牌',
  'inspect.apiTokenPlaceholder': '粘贴在“我的账号”页面生成的令牌',
  'inspect.apiTokenHint': '可选。在“我的账号”页面生成令牌并粘贴到这里：登录过期后，本机的待发送记录仍能自动发送。退出登录时令牌会从本机清除。',
  'inspect.apiTokenHintSet': '本机已保存 {name} 的令牌：提交和待发送记录使用此令牌。退出登录时清除。',
  'inspect.apiTokenOn': '已设置令牌',
  'inspect.apiTokenSave': '保存令牌',
  'inspect.apiTokenClear': '清除令牌',
  'inspect.apiTokenMissing': '请先粘贴令牌',
  'inspect.apiTokenInvalid': '服务器不接受这个令牌：可能输错了，或已被撤销',
  'inspect.apiTokenNotMine': '这个令牌不属于当前登录的账号，请使用您本人在“我的账号”页面生成的令牌',
  'inspect.apiTokenSaved': '令牌已保存',
  'inspect.apiTokenCleared': '令牌已从本机清除',
  'inspect.queuedSignIn': '登录已失效，记录已保存到待发送队列。请重新登录，登录后自动发送。',
  'inspect.signInAgain': '请重新登录：待发送的记录仍保存在本机，登录后自动发送。',
  'inspect.signInShort': '需要重新登录',
  'inspect.signInLink': '去登录 →',
  'inspect.outboxNeedsSignIn': '等待重新登录',
  'inspect.tokenRefused': 'API 令牌无效或已撤销，请重新登录或更换令牌',
  'inspect.outboxOtherUser': '由 {name} 录入，需其本人登录后发送',
  'inspect.notInspector': '您的账号没有“巡查员”角色，不能提交巡查记录。如需录入，请联系管理员。',

  'nav.admin': '用户管理',
  'nav.account': '我的账号与 API 令牌',
  'common.cancel': '取消',
  'common.ok': '确定',

  // Roles (DOMAIN.md §6) and what each may do, as the admin sees them when giving roles
  'role.inspector': '巡查员',
  'role.town_officer': '区镇交安办',
  'role.unit_officer': '责任单位',
  'role.dispatcher': '市交安办',
  'role.reviewer': '审核验收',
  'role.leader': '领导',
  'role.admin': '管理员',
  'roleHint.inspector': '排查隐患，录入现场记录和照片',
  'roleHint.town_officer': '本区镇：核实、接单整改、申请销号',
  'roleHint.unit_officer': '整改派给本单位的点位，上传佐证',
  'roleHint.dispatcher': '核实、定级、派单、审批延期、挂牌督办',
  'roleHint.reviewer': '交警 / 交通：审核销号申请，通过或退回',
  'roleHint.leader': '只读：查看地图、统计和通报',
  'roleHint.admin': '管理账号和角色',

  'orgKind.city_office': '市交安办',
  'orgKind.town': '区镇 / 街道',
  'orgKind.police_brigade': '交警大队',
  'orgKind.police_squadron': '交警中队',
  'orgKind.transport_bureau': '交通运输局',
  'orgKind.highway_centre': '公路事业发展中心',
  'orgKind.education_bureau': '教育局',
  'orgKind.village_committee': '村（居）委会',
  'orgKind.responsible_unit': '责任单位',
  'orgKind.contractor': '施工单位',

  // Header
  'header.account': '账号菜单：{name}',
  'header.signOut': '退出登录',
  'header.signOutTitle': '退出登录？',
  'header.signOutOutbox': '本机还有 {n} 条巡查记录未发送。退出后，需用同一账号重新登录才能发送。',

  // Sign-in page
  'login.title': '登录',
  'login.name': '用户名',
  'login.namePlaceholder': '登录用户名',
  'login.password': '密码',
  'login.show': '显示',
  'login.hide': '隐藏',
  'login.submit': '登录',
  'login.sending': '正在登录…',
  'login.help': '没有账号或忘记密码，请联系本单位的系统管理员。',
  'login.missing': '请输入用户名和密码',
  'login.failed': '登录失败',
  'login.throttled': '尝试次数过多',
  'login.wait': '请在 {s} 秒后重试',
  'login.waitButton': '请等待 {s} 秒',
  'login.already': '此浏览器已登录为 {name}。',
  'login.continue': '继续 →',

  // My account
  'account.title': '我的账号',
  'account.profile': '账号信息',
  'account.displayName': '姓名',
  'account.name': '用户名',
  'account.organisation': '单位',
  'account.roles': '角色',
  'account.passwordHint': '如需修改密码，请联系系统管理员。',

  // Personal API tokens
  'tokens.title': '我的 API 令牌',
  'tokens.intro': 'API 令牌代表您本人的账号，用于手机巡查页面在登录过期后继续发送记录，或供其他系统调用接口。请勿转交他人；不再使用时请撤销。',
  'tokens.name': '令牌名称',
  'tokens.namePlaceholder': '如：我的手机',
  'tokens.nameMissing': '请填写令牌名称，便于日后辨认',
  'tokens.create': '生成令牌',
  'tokens.newToken': '新令牌',
  'tokens.createdTitle': '已生成令牌“{name}”',
  'tokens.onceWarning': '令牌只显示这一次，关闭后无法再次查看。请立即复制并妥善保存；如有泄露，请撤销后重新生成。',
  'tokens.copy': '复制',
  'tokens.copied': '已复制',
  'tokens.dismiss': '我已保存，关闭',
  'tokens.empty': '还没有令牌',
  'tokens.prefix': '开头',
  'tokens.createdAt': '生成时间',
  'tokens.lastUsed': '最近使用',
  'tokens.neverUsed': '未使用',
  'tokens.status': '状态',
  'tokens.active': '有效',
  'tokens.revoked': '已撤销',
  'tokens.revoke': '撤销',
  'tokens.revokeTitle': '撤销令牌？',
  'tokens.revokeConfirm': '撤销后，使用令牌“{name}”（{prefix}…）的设备和程序将无法再访问。此操作不能恢复。',

  // User administration
  'admin.title': '用户管理',
  'admin.users': '用户',
  'admin.count': '共 {n} 人',
  'admin.countWithDisabled': '共 {n} 人，其中 {d} 人已停用',
  'admin.search': '搜索用户名、姓名或单位',
  'admin.noMatch': '没有符合条件的用户',
  'admin.noUsers': '还没有用户',
  'admin.name': '用户名',
  'admin.displayName': '姓名',
  'admin.organisation': '单位',
  'admin.roles': '角色',
  'admin.status': '状态',
  'admin.lastLogin': '最近登录',
  'admin.actions': '操作',
  'admin.never': '从未登录',
  'admin.you': '本人',
  'admin.active': '正常',
  'admin.disabled': '已停用',
  'admin.enable': '启用',
  'admin.disable': '停用',
  'admin.cannotDisableSelf': '不能停用自己的账号',
  'admin.disableTitle': '停用账号？',
  'admin.disableConfirm': '停用后，{name}（{login}）将无法登录，已登录的设备和 API 令牌也将失效。之后可以重新启用。',
  'admin.disabledOk': '已停用 {name}',
  'admin.enabledOk': '已启用 {name}',
  'admin.resetPassword': '重置密码',
  'admin.resetTitle': '重置 {name} 的密码',
  'admin.resetExplain': '为 {login} 设置新密码。该用户在所有设备上的登录将立即失效，需用新密码重新登录。',
  'admin.newPassword': '新密码',
  'admin.resetSubmit': '重置密码',
  'admin.resetOk': '已重置 {name} 的密码，请当面或电话告知本人',
  'admin.createTitle': '新建用户',
  'admin.nameHint': '用于登录：小写字母、数字及 . _ -，2–32 位',
  'admin.password': '初始密码',
  'admin.passwordHint': '至少 10 个字符。请当面或电话告知本人。',
  'admin.generate': '生成',
  'admin.chooseOrganisation': '请选择单位',
  'admin.create': '创建用户',
  'admin.creating': '正在创建…',
  'admin.createdOk': '已创建用户 {name}（{login}）',
  'admin.badName': '用户名须为 2–32 位小写字母、数字或 . _ -，并以字母或数字开头',
  'admin.badDisplayName': '请填写姓名（不超过 {n} 个字）',
  'admin.noOrganisation': '请选择单位',
  'admin.noRoles': '请至少选择一个角色',
  'admin.passwordShort': '密码至少 {n} 个字符',
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
  'inspect.inspectorLabel': 'Inspector: ',
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
  'inspect.settings': 'Settings',
  'inspect.apiToken': 'API token',
  'inspect.apiTokenPlaceholder': 'Paste a token made on the "My account" page',
  'inspect.apiTokenHint': 'Optional. Make a token on the "My account" page and paste it here: the outbox of this device is then sent even after your sign-in has expired. Signing out removes it from this device.',
  'inspect.apiTokenHintSet': 'A token of {name} is saved on this device: submissions and the outbox use it. Signing out removes it.',
  'inspect.apiTokenOn': 'token set',
  'inspect.apiTokenSave': 'Save token',
  'inspect.apiTokenClear': 'Remove token',
  'inspect.apiTokenMissing': 'Paste a token first',
  'inspect.apiTokenInvalid': 'The server does not accept this token: mistyped, or revoked',
  'inspect.apiTokenNotMine': 'This token belongs to another account: use one you made yourself on the "My account" page',
  'inspect.apiTokenSaved': 'Token saved',
  'inspect.apiTokenCleared': 'Token removed from this device',
  'inspect.queuedSignIn': 'Your sign-in has expired; the observation is saved in the outbox. Sign in again and it is sent.',
  'inspect.signInAgain': 'Sign in again: the outbox stays on this device and is sent once you have signed in.',
  'inspect.signInShort': 'needs a new sign-in',
  'inspect.signInLink': 'Sign in →',
  'inspect.outboxNeedsSignIn': 'Waiting for you to sign in again',
  'inspect.tokenRefused': 'The API token is wrong or revoked: sign in again or change the token',
  'inspect.outboxOtherUser': 'Recorded by {name}; sent once they sign in',
  'inspect.notInspector': 'Your account does not have the inspector role and cannot submit observations; ask your administrator.',

  'nav.admin': 'Users',
  'nav.account': 'My account and API tokens',
  'common.cancel': 'Cancel',
  'common.ok': 'OK',

  'role.inspector': 'Inspector',
  'role.town_officer': 'Town road-safety office',
  'role.unit_officer': 'Responsible unit',
  'role.dispatcher': 'City road-safety office',
  'role.reviewer': 'Reviewer',
  'role.leader': 'Leader',
  'role.admin': 'Administrator',
  'roleHint.inspector': 'Surveys hazards; records observations and photos',
  'roleHint.town_officer': 'Own town: verifies, accepts remediation, requests close-out',
  'roleHint.unit_officer': 'Remediates sites dispatched to the unit; uploads evidence',
  'roleHint.dispatcher': 'Verifies, sets levels, dispatches, approves extensions, supervision',
  'roleHint.reviewer': 'Traffic police / transport: approves or returns close-outs',
  'roleHint.leader': 'Read-only: map, figures and bulletins',
  'roleHint.admin': 'Manages accounts and roles',

  'orgKind.city_office': 'City road-safety office',
  'orgKind.town': 'Town / sub-district',
  'orgKind.police_brigade': 'Traffic police brigade',
  'orgKind.police_squadron': 'Traffic police squadron',
  'orgKind.transport_bureau': 'Transport bureau',
  'orgKind.highway_centre': 'Highway centre',
  'orgKind.education_bureau': 'Education bureau',
  'orgKind.village_committee': 'Village committee',
  'orgKind.responsible_unit': 'Responsible unit',
  'orgKind.contractor': 'Contractor',

  'header.account': 'Account menu: {name}',
  'header.signOut': 'Sign out',
  'header.signOutTitle': 'Sign out?',
  'header.signOutOutbox': '{n} observations on this device have not been sent yet. After signing out, they are sent only once the same account signs in again.',

  'login.title': 'Sign in',
  'login.name': 'User name',
  'login.namePlaceholder': 'Your sign-in name',
  'login.password': 'Password',
  'login.show': 'Show',
  'login.hide': 'Hide',
  'login.submit': 'Sign in',
  'login.sending': 'Signing in…',
  'login.help': 'No account, or forgot your password? Ask your office\'s administrator.',
  'login.missing': 'Enter your user name and password',
  'login.failed': 'Not signed in',
  'login.throttled': 'Too many attempts',
  'login.wait': 'Try again in {s} s',
  'login.waitButton': 'Wait {s} s',
  'login.already': 'This browser is signed in as {name}.',
  'login.continue': 'Continue →',

  'account.title': 'My account',
  'account.profile': 'Account',
  'account.displayName': 'Name',
  'account.name': 'User name',
  'account.organisation': 'Organisation',
  'account.roles': 'Roles',
  'account.passwordHint': 'To change your password, ask your administrator.',

  'tokens.title': 'My API tokens',
  'tokens.intro': 'An API token acts as your own account: the survey page on your phone uses it to keep sending after your sign-in has expired, and other systems can call the API with it. Do not hand it on; revoke it when it is no longer used.',
  'tokens.name': 'Token name',
  'tokens.namePlaceholder': 'e.g. my phone',
  'tokens.nameMissing': 'Give the token a name so that you can recognise it later',
  'tokens.create': 'Create token',
  'tokens.newToken': 'New token',
  'tokens.createdTitle': 'Token "{name}" created',
  'tokens.onceWarning': 'The token is shown this once and cannot be seen again. Copy it now and keep it safe; if it leaks, revoke it and create a new one.',
  'tokens.copy': 'Copy',
  'tokens.copied': 'Copied',
  'tokens.dismiss': 'I have saved it',
  'tokens.empty': 'No tokens yet',
  'tokens.prefix': 'Starts with',
  'tokens.createdAt': 'Created',
  'tokens.lastUsed': 'Last used',
  'tokens.neverUsed': 'never',
  'tokens.status': 'Status',
  'tokens.active': 'Active',
  'tokens.revoked': 'Revoked',
  'tokens.revoke': 'Revoke',
  'tokens.revokeTitle': 'Revoke the token?',
  'tokens.revokeConfirm': 'Devices and programs using "{name}" ({prefix}…) will lose access. This cannot be undone.',

  'admin.title': 'Users',
  'admin.users': 'Users',
  'admin.count': '{n} in all',
  'admin.countWithDisabled': '{n} in all, {d} disabled',
  'admin.search': 'Search by user name, name or organisation',
  'admin.noMatch': 'No user matches',
  'admin.noUsers': 'No users yet',
  'admin.name': 'User name',
  'admin.displayName': 'Name',
  'admin.organisation': 'Organisation',
  'admin.roles': 'Roles',
  'admin.status': 'Status',
  'admin.lastLogin': 'Last sign-in',
  'admin.actions': 'Actions',
  'admin.never': 'never',
  'admin.you': 'you',
  'admin.active': 'Active',
  'admin.disabled': 'Disabled',
  'admin.enable': 'Enable',
  'admin.disable': 'Disable',
  'admin.cannotDisableSelf': 'You cannot disable your own account',
  'admin.disableTitle': 'Disable the account?',
  'admin.disableConfirm': '{name} ({login}) will no longer be able to sign in; their sessions and API tokens stop working. You can enable the account again later.',
  'admin.disabledOk': '{name} is disabled',
  'admin.enabledOk': '{name} is enabled',
  'admin.resetPassword': 'Reset password',
  'admin.resetTitle': 'Reset the password of {name}',
  'admin.resetExplain': 'Sets a new password for {login}. They are signed out on every device at once and sign in again with the new password.',
  'admin.newPassword': 'New password',
  'admin.resetSubmit': 'Reset password',
  'admin.resetOk': 'The password of {name} is reset; tell them in person or by phone',
  'admin.createTitle': 'New user',
  'admin.nameHint': 'For signing in: 2–32 lowercase letters, digits, . _ -',
  'admin.password': 'First password',
  'admin.passwordHint': 'At least 10 characters. Tell the user in person or by phone.',
  'admin.generate': 'Generate',
  'admin.chooseOrganisation': 'Choose an organisation',
  'admin.create': 'Create user',
  'admin.creating': 'Creating…',
  'admin.createdOk': 'User {name} ({login}) created',
  'admin.badName': 'A user name is 2–32 lowercase letters, digits, . _ - and starts with a letter or digit',
  'admin.badDisplayName': 'Enter a name (at most {n} characters)',
  'admin.noOrganisation': 'Choose an organisation',
  'admin.noRoles': 'Choose at least one role',
  'admin.passwordShort': 'A password has at least {n} characters',
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
