<?php
/**
 * The WordPress functions the paywall plugin calls, with WordPress's behaviour, for tests.
 *
 * Hooks work as in WordPress (priorities, accepted arguments); the current user, the
 * queried post and the post meta come from router.php.
 */

define( 'ABSPATH', __DIR__ . '/' );

$GLOBALS['stub_hooks']      = array();
$GLOBALS['stub_user']       = null;   // array( 'login' => ..., 'caps' => array( ... ) ) or null
$GLOBALS['stub_query']      = array( 'singular' => false, 'feed' => false, 'post' => 0 );
$GLOBALS['stub_posts']      = array();
$GLOBALS['stub_meta_types'] = array();
$GLOBALS['stub_the_post']   = 0;

class WP_User {
	public $user_login;
	public function __construct( $login ) {
		$this->user_login = $login;
	}
}

class WP_Post {
	public $ID;
	public $post_content;
	public $post_excerpt;
	public function __construct( $id, $content, $excerpt ) {
		$this->ID           = $id;
		$this->post_content = $content;
		$this->post_excerpt = $excerpt;
	}
}

class WP_REST_Response {
	private $data;
	public function __construct( $data ) {
		$this->data = $data;
	}
	public function get_data() {
		return $this->data;
	}
	public function set_data( $data ) {
		$this->data = $data;
	}
}

function add_filter( $tag, $callback, $priority = 10, $accepted_args = 1 ) {
	$GLOBALS['stub_hooks'][ $tag ][ $priority ][] = array( $callback, $accepted_args );
	return true;
}

function add_action( $tag, $callback, $priority = 10, $accepted_args = 1 ) {
	return add_filter( $tag, $callback, $priority, $accepted_args );
}

function apply_filters( $tag, $value, ...$args ) {
	if ( empty( $GLOBALS['stub_hooks'][ $tag ] ) ) {
		return $value;
	}
	$by_priority = $GLOBALS['stub_hooks'][ $tag ];
	ksort( $by_priority );
	foreach ( $by_priority as $callbacks ) {
		foreach ( $callbacks as list( $callback, $accepted ) ) {
			$value = call_user_func_array( $callback, array_slice( array_merge( array( $value ), $args ), 0, $accepted ) );
		}
	}
	return $value;
}

function do_action( $tag, ...$args ) {
	apply_filters( $tag, $args[0] ?? null, ...array_slice( $args, 1 ) );
}

function is_user_logged_in() {
	return null !== $GLOBALS['stub_user'];
}

function wp_get_current_user() {
	return is_user_logged_in() ? new WP_User( $GLOBALS['stub_user']['login'] ) : new WP_User( '' );
}

function current_user_can( $capability, ...$args ) {
	return is_user_logged_in() && in_array( $capability, $GLOBALS['stub_user']['caps'], true );
}

function is_singular() {
	return $GLOBALS['stub_query']['singular'];
}

function is_feed() {
	return $GLOBALS['stub_query']['feed'];
}

function get_queried_object_id() {
	return $GLOBALS['stub_query']['post'];
}

function get_the_ID() {
	return $GLOBALS['stub_the_post'];
}

function get_post_meta( $post_id, $key, $single = false ) {
	$meta  = $GLOBALS['stub_posts'][ $post_id ]['meta'] ?? array();
	$value = $meta[ $key ] ?? null;
	if ( null === $value ) {
		return $single ? '' : array();
	}
	return $single ? $value : array( $value );
}

function register_post_meta( $post_type, $meta_key, array $args ) {
	$GLOBALS['stub_meta_types'][ $meta_key ] = $args;
	return true;
}

function get_post_types( $args = array() ) {
	return array( 'post' => 'post', 'page' => 'page' );
}

function has_excerpt( $post_id ) {
	return '' !== ( $GLOBALS['stub_posts'][ $post_id ]['excerpt'] ?? '' );
}

function get_post_field( $field, $post_id ) {
	return 'post_excerpt' === $field ? ( $GLOBALS['stub_posts'][ $post_id ]['excerpt'] ?? '' ) : '';
}

function get_permalink( $post_id ) {
	return 'http://127.0.0.1/?p=' . (int) $post_id;
}

function wp_strip_all_tags( $text ) {
	return trim( strip_tags( preg_replace( '@<(script|style)[^>]*?>.*?</\\1>@si', '', (string) $text ) ) );
}

function wp_trim_words( $text, $num_words = 55, $more = '&hellip;' ) {
	$words = preg_split( '/[\n\r\t ]+/', wp_strip_all_tags( $text ), -1, PREG_SPLIT_NO_EMPTY );
	if ( count( $words ) > $num_words ) {
		return implode( ' ', array_slice( $words, 0, $num_words ) ) . $more;
	}
	return implode( ' ', $words );
}

function esc_html( $text ) {
	// As WordPress: entities already in the text are kept, not encoded twice.
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8', false );
}

function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}

function esc_url( $url ) {
	return htmlspecialchars( (string) $url, ENT_QUOTES, 'UTF-8', false );
}
